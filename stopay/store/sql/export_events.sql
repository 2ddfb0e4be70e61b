-- Events recorded in [$1, $2), optionally of one case ($3), each case's in chain order, with what
-- an auditor needs to recompute the hash: chain position, and the detail exactly as stored.
SELECT e.case_id, e.seq, e.chain_pos, e.at, e.actor, e.kind, e.order_id, e.detail,
       e.detail::text AS detail_text, e.prev_hash, e.hash
FROM case_events e
WHERE e.at >= $1 AND e.at < $2
  AND ($3::uuid IS NULL OR e.case_id = $3)
ORDER BY e.at, e.case_id, e.chain_pos

-- Events recorded in [$1, $2), optionally of one case ($3), in the order they were written, with
-- their place in the case's hash chain.
SELECT e.case_id, e.seq, e.at, e.actor, e.kind, e.order_id, e.detail, e.prev_hash, e.hash
FROM case_events e
WHERE e.at >= $1 AND e.at < $2
  AND ($3::uuid IS NULL OR e.case_id = $3)
ORDER BY e.at, e.case_id, e.seq

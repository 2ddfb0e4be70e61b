-- Events recorded in [:since, :until), of the case :case_id only (NULL: of every case), of the kinds
-- :kinds only (empty: of every kind), each case's in chain order, with what
-- an auditor needs to recompute the hash: chain position, and the detail exactly as stored.
SELECT e.case_id, e.seq, e.chain_pos, e.at, e.actor, e.kind, e.order_id, e.detail,
       e.detail::text AS detail_text, e.prev_hash, e.hash
FROM case_events e
WHERE e.at >= :since AND e.at < :until
  AND (:case_id::uuid IS NULL OR e.case_id = :case_id)
  AND (cardinality(:kinds::text[]) = 0 OR e.kind = ANY (:kinds::text[]))
ORDER BY e.at, e.case_id, e.chain_pos

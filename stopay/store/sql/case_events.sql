-- The events of the case :case_id after seq :after_seq (0: all of them), oldest first.
SELECT seq, at, actor, kind, order_id, detail
FROM case_events
WHERE case_id = :case_id AND seq > :after_seq
ORDER BY seq

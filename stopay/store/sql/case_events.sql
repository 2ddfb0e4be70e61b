-- Events of a case after seq $2, oldest first. $1 case_id.
SELECT seq, at, actor, kind, order_id, detail
FROM case_events
WHERE case_id = $1 AND seq > $2
ORDER BY seq

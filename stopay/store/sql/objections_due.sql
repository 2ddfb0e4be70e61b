-- What the sweeper has to do about objections, up to :batch of each: 'escalate' the open ones past
-- their deadline and not escalated yet, 'warn' of the open ones within :warn_hours of it and not
-- warned of yet (by stopay_now()). Each row: action, objection_id, case_id.
(SELECT 'escalate' AS action, objection_id, case_id FROM objections
 WHERE state = 'open' AND escalated_at IS NULL AND due_at <= stopay_now()
 ORDER BY due_at LIMIT :batch)
UNION ALL
(SELECT 'warn', objection_id, case_id FROM objections
 WHERE state = 'open' AND warned_at IS NULL AND due_at > stopay_now()
   AND due_at <= stopay_now() + make_interval(hours => :warn_hours::int)
 ORDER BY due_at LIMIT :batch)

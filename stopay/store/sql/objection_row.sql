-- The objection :objection_id, or the one filed under :request_id (either may be null), with whether it
-- is overdue by the hold lifecycle's clock.
SELECT o.*, o.state = 'open' AND o.due_at <= stopay_now() AS overdue FROM objections o
WHERE o.objection_id = :objection_id::uuid OR o.request_id = :request_id::text

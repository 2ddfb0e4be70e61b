-- Level-1 freezes that held money: the bank, when the case was accepted (seconds since the epoch),
-- and milliseconds from the case's acceptance to the hold, by the database clock.
SELECT o.bank_code,
       extract(epoch FROM c.created_at)::float8 AS accepted_at,
       extract(epoch FROM o.resolved_at - c.created_at)::float8 * 1000 AS ms
FROM freeze_orders o
JOIN cases c USING (case_id)
WHERE o.level = 1 AND o.kind IN ('freeze', 'stop') AND o.held_minor > 0 AND o.resolved_at IS NOT NULL

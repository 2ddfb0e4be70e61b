-- Per level: milliseconds from the case's acceptance to the first freeze or stop that held money there
-- (as CaseView.hold_timings counts them), by the database clock.
SELECT o.level, min(extract(epoch FROM o.resolved_at - c.created_at) * 1000)::float8 AS ms
FROM freeze_orders o
JOIN cases c USING (case_id)
WHERE o.kind IN ('freeze', 'stop') AND o.held_minor > 0 AND o.resolved_at IS NOT NULL
GROUP BY o.level
ORDER BY o.level

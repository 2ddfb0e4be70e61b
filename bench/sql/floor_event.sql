-- One chained event for each case of $1 (sorted, so concurrent writers lock heads in one order), as
-- a recorded bank answer writes one: the case_events trigger links each into its case's hash chain.
INSERT INTO case_events (case_id, actor, kind, order_id, detail)
SELECT c, 'dispatcher:bench', 'order.held', NULL, '{"held_minor": 20000, "released_minor": 0}'::jsonb
FROM unnest($1::uuid[]) AS c
ORDER BY c

-- The metrics' settled orders (final: not freeze_order_unresolved) by status and bank: one pass over
-- freeze_orders without a lock, so the metrics read it less often than the unresolved ones
-- (dispatch/metrics.py). A final order never changes and is never deleted, so a count read a minute
-- ago is short only of the orders settled since. Under Citus the count is pushed down to every shard
-- and summed on the coordinator.
SELECT status, bank_code, count(*) AS orders
FROM freeze_orders
WHERE NOT freeze_order_unresolved(status)
GROUP BY status, bank_code

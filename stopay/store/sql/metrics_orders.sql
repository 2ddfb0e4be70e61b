-- The metrics' orders by status and bank (serve --metrics-listen, docs/operations.md#metrics): one
-- aggregate read, no lock. Every order counts, settled ones too, so the counts add up to the table.
-- Under Citus the count is pushed down to every shard and summed on the coordinator.
SELECT status, bank_code, count(*) AS orders
FROM freeze_orders
GROUP BY status, bank_code

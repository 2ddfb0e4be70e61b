-- The metrics' open orders (freeze_order_open) by status and bank, read from the partial index of
-- open orders (freeze_orders_due) without a lock; few rows, however many orders have settled.
SELECT status, bank_code, count(*) AS orders
FROM freeze_orders
WHERE freeze_order_open(status)
GROUP BY status, bank_code

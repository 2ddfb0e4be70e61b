-- stopay schema, version 5: banks that answer later.
-- An order a bank answered "pending" (PDCR) is looked at again after a while (a resend under the
-- same idempotency key is the status query), so pending orders join the dispatcher's due index.
-- Operators retry a failed order by its id alone, and banks call back by case and order.
DROP INDEX freeze_orders_due;
CREATE INDEX freeze_orders_due ON freeze_orders (next_attempt_at)
    WHERE status IN ('queued', 'freezing', 'pending');
CREATE INDEX freeze_orders_by_order_id ON freeze_orders (order_id);

-- An operator's retry is a new order for the same account and money; it names the order it retries.
ALTER TABLE freeze_orders ADD COLUMN retry_of uuid;
-- An order is retried at most once (its retry may be retried in turn).
CREATE UNIQUE INDEX freeze_orders_one_retry ON freeze_orders (case_id, retry_of) WHERE retry_of IS NOT NULL;

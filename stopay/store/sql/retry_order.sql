-- An operator's retry of an order that could not be delivered ($1 its order id): a new order for
-- the same account and money, under the same idempotency key (so a bank that did apply the first
-- never applies it twice), starting again from the statement. The failed order stays as it was.
-- $2 the new order's id, $3 the actor. Nothing is returned unless the order exists and failed.
WITH failed AS (
    SELECT * FROM freeze_orders WHERE order_id = $1 AND status = 'undeliverable' AND kind = 'freeze'
), created AS (
    INSERT INTO freeze_orders (case_id, order_id, parent_order_id, kind, level, bank_code,
                               account_number, holder_name, currency, requested_minor, incoming,
                               idempotency_key, retry_of)
    SELECT f.case_id, $2, f.parent_order_id, f.kind, f.level, f.bank_code, f.account_number,
           f.holder_name, f.currency, f.requested_minor, f.incoming, f.idempotency_key, f.order_id
    FROM failed f
    ON CONFLICT DO NOTHING
    RETURNING case_id, order_id
), events AS (
    INSERT INTO case_events (case_id, actor, kind, order_id, detail)
    SELECT c.case_id, $3, 'order.retried', c.order_id, jsonb_build_object('retry_of', $1::uuid)
    FROM created c
)
SELECT case_id, order_id FROM created

-- An operator's retry of an order that could not be delivered (:order_id): a new order for
-- the same account, money and details, under the same idempotency key (so a bank that did apply the
-- first never applies it twice). A freeze starts again from the statement; an extension is sent
-- again only while its hold lasts. A release or a return
-- puts its money back among what is going out of the hold (the failed one had taken it off). The
-- failed order stays as it was. :new_order_id the new order's id, :actor who asked. Nothing is returned unless
-- the order exists and failed.
WITH failed AS (
    SELECT * FROM freeze_orders o WHERE o.order_id = :order_id AND o.status = 'undeliverable'
      -- An extension is only worth sending while its hold lasts.
      AND (o.kind <> 'extend' OR EXISTS (
          SELECT 1 FROM holds h
          WHERE h.case_id = o.case_id AND h.bank_code = o.bank_code AND h.account_number = o.account_number
            AND h.state IN ('stopped', 'frozen')))
), created AS (
    INSERT INTO freeze_orders (case_id, order_id, parent_order_id, kind, level, bank_code,
                               account_number, holder_name, currency, requested_minor, incoming,
                               idempotency_key, retry_of, params)
    SELECT f.case_id, :new_order_id, f.parent_order_id, f.kind, f.level, f.bank_code, f.account_number,
           f.holder_name, f.currency, f.requested_minor, f.incoming, f.idempotency_key, f.order_id,
           f.params
    FROM failed f
    ON CONFLICT DO NOTHING
    RETURNING case_id, order_id, kind, bank_code, account_number, requested_minor
), going_out AS (
    UPDATE trail_accounts t SET releasing_minor = t.releasing_minor + c.requested_minor, updated_at = now()
    FROM created c
    WHERE c.kind IN ('release', 'return') AND t.case_id = c.case_id AND t.bank_code = c.bank_code
      AND t.account_number = c.account_number
    RETURNING t.case_id
), events AS (
    INSERT INTO case_events (case_id, actor, kind, order_id, detail)
    SELECT c.case_id, :actor, 'order.retried', c.order_id,
           jsonb_build_object('retry_of', :order_id::uuid, 'kind', c.kind, 'going_out', g.n)
    -- Counting going_out first makes the account's row locked before the chain head, the order
    -- every writer keeps.
    FROM created c CROSS JOIN (SELECT count(*) AS n FROM going_out) g
)
SELECT case_id, order_id FROM created

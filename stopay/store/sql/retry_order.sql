-- Writes an operator's retry of order :order_id, as domain.orders.retry_plan decided it (the caller
-- read retry_candidate.sql in the same transaction): a new order :new_order_id for the same account,
-- money and details, under the same idempotency key (so a bank that did apply the first never
-- applies it twice); with :puts_back (a failed release or return had taken its money off),
-- :going_out_minor put back among what is going out of the hold; a stop asks again for
-- :in_flight_minor (what the case is short of there, at most its amount), back in flight. The failed order stays as it was.
-- :status is 'queued', or 'awaiting_review' for a stop of a case whose review of large freezes
-- awaits (parked, its money set aside in flight like every waiting freeze's). :actor who asked. Nothing is returned when the order was retried already (freeze_orders_one_retry).
WITH created AS (
    INSERT INTO freeze_orders (case_id, order_id, parent_order_id, kind, level, bank_code,
                               account_number, holder_name, currency, requested_minor, incoming,
                               idempotency_key, retry_of, params, freeze_minor, status, next_attempt_at)
    SELECT f.case_id, :new_order_id, f.parent_order_id, f.kind, f.level, f.bank_code, f.account_number,
           f.holder_name, f.currency,
           CASE WHEN f.kind = 'stop' THEN :in_flight_minor::bigint ELSE f.requested_minor END,
           f.incoming, f.idempotency_key, f.order_id,
           f.params, CASE WHEN f.kind = 'stop' THEN :in_flight_minor::bigint END, :status::text,
           CASE WHEN :status::text = 'awaiting_review' THEN 'infinity' ELSE stopay_now() END
    FROM freeze_orders f
    WHERE f.order_id = :order_id
    ON CONFLICT DO NOTHING
    RETURNING case_id, order_id, kind, bank_code, account_number
), going_out AS (
    UPDATE trail_accounts t
    SET releasing_minor = t.releasing_minor + CASE WHEN :puts_back::boolean THEN :going_out_minor::bigint ELSE 0 END,
        in_flight_minor = t.in_flight_minor + :in_flight_minor::bigint, updated_at = now()
    FROM created c
    WHERE (:puts_back::boolean OR :in_flight_minor::bigint > 0) AND t.case_id = c.case_id AND t.bank_code = c.bank_code
      AND t.account_number = c.account_number
    RETURNING t.case_id
), events AS (
    INSERT INTO case_events (case_id, actor, kind, order_id, detail)
    SELECT c.case_id, :actor, 'order.retried', c.order_id,
           jsonb_build_object('retry_of', :order_id::uuid, 'kind', c.kind, 'going_out', g.n, 'status', :status::text)
    -- Counting going_out first makes the account's row locked before the chain head, the order
    -- every writer keeps.
    FROM created c CROSS JOIN (SELECT count(*) AS n FROM going_out) g
)
SELECT case_id, order_id FROM created

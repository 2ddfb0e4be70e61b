-- Claims up to :limit open orders (freeze_order_open) with a bank request due (a statement when a
-- freeze order is 'queued', a freeze when it is 'freezing' or, as the status query, 'pending'; a
-- release, extension or return when such an order is 'queued') of the banks in :banks (those this
-- replica serves, store/migrations/0009_replicas.sql; NULL: every bank), leaving out the banks in
-- :skip_banks (their circuit breaker is open), for :owner with a lease of :lease_s seconds, by the
-- database clock (stopay_now()). An order whose lease ran out (its
-- owner died) is due again; SKIP LOCKED lets replicas share the work. Each order comes with its
-- case's tracing policy and every transfer already known to carry the victim's money into the
-- account, so the bank's statement starts early enough.
WITH due AS (
    SELECT case_id, order_id
    FROM freeze_orders
    WHERE freeze_order_open(status)
      AND next_attempt_at <= stopay_now()
      AND (:banks::text[] IS NULL OR bank_code = ANY (:banks::text[]))
      AND NOT (bank_code = ANY (:skip_banks::text[]))
      AND (lease_until IS NULL OR lease_until < stopay_now())
    ORDER BY next_attempt_at
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE freeze_orders o
    SET lease_owner = :owner,
        lease_until = stopay_now() + make_interval(secs => :lease_s::float8),
        -- Out of the due index's front while leased, so claims skip past orders in flight.
        next_attempt_at = stopay_now() + make_interval(secs => :lease_s::float8),
        attempts = o.attempts + 1
    FROM due
    WHERE o.case_id = due.case_id AND o.order_id = due.order_id
    RETURNING o.*
)
SELECT o.case_id, o.order_id, o.parent_order_id, o.kind, o.level, o.status, o.bank_code, o.account_number,
       o.holder_name, o.currency, o.requested_minor, o.freeze_minor, o.incoming, o.idempotency_key, o.params,
       o.attempts, c.rule, c.max_depth, c.min_amount,
       -- Past the delivery deadline (:deadline_s seconds after the order was created, or after its
       -- review let it go, by the database clock).
       stopay_now() > coalesce(o.reviewed_at, o.created_at) + make_interval(secs => :deadline_s::float8) AS expired,
       coalesce(t.incoming, '{}'::jsonb) AS known_incoming
FROM claimed o
JOIN cases c ON c.case_id = o.case_id
LEFT JOIN trail_accounts t
       ON t.case_id = o.case_id AND t.bank_code = o.bank_code AND t.account_number = o.account_number

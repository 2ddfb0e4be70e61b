-- Claims up to $1 due orders for owner $2 with a lease of $3 seconds, by the database clock.
-- An order whose lease ran out (its owner died) is due again; SKIP LOCKED lets replicas share.
WITH due AS (
    SELECT case_id, order_id
    FROM freeze_orders
    WHERE status = 'queued'
      AND next_attempt_at <= now()
      AND (lease_until IS NULL OR lease_until < now())
    ORDER BY next_attempt_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
UPDATE freeze_orders o
SET lease_owner = $2,
    lease_until = now() + make_interval(secs => $3::float8),
    attempts = o.attempts + 1
FROM due
WHERE o.case_id = due.case_id AND o.order_id = due.order_id
RETURNING o.case_id, o.order_id, o.level, o.bank_code, o.account_number, o.holder_name,
          o.currency, o.requested_minor, o.incoming, o.idempotency_key, o.attempts

-- The metrics' queues, in one row, by the database clock (stopay_now()); each count is read from a
-- partial index of open orders, live holds or open objections, without a lock:
-- * due_orders, oldest_due_s: open orders a claim would take now (claim_orders.sql's test, every
--   bank), and how long the oldest of them has been due (0 when none is);
-- * holds_expiring: live holds (stopped or frozen) that expire within :within_s seconds, or are past
--   their expiry and not yet lapsed by the sweeper;
-- * objections_open, objections_overdue: objections waiting for a decision, and those past due;
-- * case_reviews_waiting: cases whose review of large freezes awaits a supervisor.
WITH due AS (
    SELECT count(*) AS due_orders, min(next_attempt_at) AS oldest
    FROM freeze_orders
    WHERE freeze_order_open(status)
      AND next_attempt_at <= stopay_now()
      AND (lease_until IS NULL OR lease_until < stopay_now())
)
SELECT due.due_orders,
       coalesce(extract(epoch FROM stopay_now() - due.oldest), 0)::float8 AS oldest_due_s,
       (SELECT count(*) FROM holds
        WHERE state IN ('stopped', 'frozen')
          AND expires_at <= stopay_now() + make_interval(secs => :within_s::float8)) AS holds_expiring,
       (SELECT count(*) FROM objections WHERE state = 'open') AS objections_open,
       (SELECT count(*) FROM objections WHERE state = 'open' AND due_at <= stopay_now()) AS objections_overdue,
       (SELECT count(*) FROM case_reviews WHERE state = 'awaiting') AS case_reviews_waiting
FROM due

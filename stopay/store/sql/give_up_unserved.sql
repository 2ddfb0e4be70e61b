-- Gives up, as undeliverable with the reason :reason_code, up to :limit freeze orders still asking for
-- their statement, or stops never sent (nothing of them can have moved money), whose bank no live replica serves
-- (dispatch_replicas): at once when no replica served the bank within the delivery deadline
-- (:deadline_s seconds), else once the order is past that deadline (a replica that served the bank
-- may come back: a restart, a crash). So an order waits at most a deadline after it was created, or
-- after the last replica serving its bank lapsed, whichever comes first. :actor is who gives them
-- up (the events' actor). Run after replicas_lock.sql, in the same transaction,
-- so a replica registering meanwhile is either seen here or finds these orders settled. Orders are
-- locked skipping any being claimed or recorded (so replicas never give up one order twice), then
-- the trail rows of the stops among them, then the chain heads of their cases, in case_id order, as
-- reschedule_orders.sql does.
WITH due AS (
    SELECT o.case_id, o.order_id, o.bank_code,
           stopay_now() > coalesce(o.reviewed_at, o.created_at) + make_interval(secs => :deadline_s::float8) AS expired
    FROM freeze_orders o
    WHERE o.status = 'queued' AND (o.kind = 'freeze' OR (o.kind = 'stop' AND o.attempts = 0))
      AND o.next_attempt_at <= stopay_now()
      AND (o.lease_until IS NULL OR o.lease_until < stopay_now())
      AND NOT EXISTS (
          SELECT 1 FROM dispatch_replicas r
          WHERE o.bank_code = ANY (r.bank_codes)
            AND r.alive_until > CASE WHEN stopay_now() > coalesce(o.reviewed_at, o.created_at) + make_interval(secs => :deadline_s::float8) THEN stopay_now()
                                     ELSE stopay_now() - make_interval(secs => :deadline_s::float8) END
      )
    ORDER BY o.next_attempt_at
    LIMIT :limit
    FOR NO KEY UPDATE OF o SKIP LOCKED
), stop_rows AS (
    -- The trail rows of the stops given up, in key order, before any chain head: the order every
    -- writer keeps (an operator's retry locks the row, then the head).
    SELECT t.case_id
    FROM trail_accounts t JOIN freeze_orders o ON o.case_id = t.case_id AND o.bank_code = t.bank_code
                                              AND o.account_number = t.account_number
    WHERE o.kind = 'stop' AND (o.case_id, o.order_id) IN (SELECT case_id, order_id FROM due)
    ORDER BY t.case_id, t.bank_code, t.account_number
    FOR UPDATE OF t
), heads AS (
    SELECT case_chain_lock(d.case_id) AS head
    FROM (SELECT DISTINCT case_id FROM due) AS d
    -- A one-time filter: the stops' rows are locked before the first head.
    WHERE (SELECT count(*) FROM stop_rows) >= 0
    ORDER BY d.case_id
), updated AS (
    UPDATE freeze_orders o
    SET status = 'undeliverable',
        reason_code = :reason_code,
        detail = 'no adapter serves bank ' || due.bank_code
                 || CASE WHEN due.expired THEN ' (none did by the delivery deadline)' ELSE '' END,
        resolved_at = now(),
        lease_owner = NULL,
        lease_until = NULL
    FROM due
    WHERE o.case_id = due.case_id AND o.order_id = due.order_id
    RETURNING o.case_id, o.order_id, o.bank_code, o.account_number, o.kind, o.freeze_minor, o.reason_code,
              o.detail
), stops_off AS (
    -- A stop's freeze was in flight from its start (domain.settlement.settle does the same for an
    -- answered one). The rows were locked in stop_rows.
    UPDATE trail_accounts t SET in_flight_minor = t.in_flight_minor - s.freeze_minor, updated_at = now()
    FROM (SELECT u.case_id, u.bank_code, u.account_number, sum(u.freeze_minor) AS freeze_minor
          FROM updated u WHERE u.kind = 'stop'
          GROUP BY u.case_id, u.bank_code, u.account_number) s
    WHERE t.case_id = s.case_id AND t.bank_code = s.bank_code AND t.account_number = s.account_number
    RETURNING t.case_id
), events AS (
    INSERT INTO case_events (case_id, actor, kind, order_id, detail)
    SELECT u.case_id, :actor, 'order.undeliverable', u.order_id,
           jsonb_build_object('held_minor', 0, 'released_minor', 0, 'asked_minor', NULL,
                              'reason_code', u.reason_code, 'detail', u.detail)
    FROM updated u
    -- A one-time filter, evaluated before the first event is written: every head is locked by then.
    WHERE (SELECT count(*) FROM heads) > 0
)
SELECT case_id, order_id, bank_code FROM updated

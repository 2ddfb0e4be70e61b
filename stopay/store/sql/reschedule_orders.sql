-- Gives orders back after a delivery attempt that may pass (bank down, timeout, a statement that
-- started too late): the next attempt waits delay_s seconds by the database clock.
-- :retries jsonb array of {case_id, order_id, attempts, delay_s, detail} (store/orders.Retry),
-- :owner the claiming replica, :actor who, in the case's events.
-- Only the claim that made the attempt (same attempts count) may give it back; rows are locked in
-- key order, as everywhere else: the orders, then the chain heads of their cases.
WITH input AS (
    SELECT *
    FROM jsonb_to_recordset(:retries::jsonb) AS i(case_id uuid, order_id uuid, attempts int, delay_s float8,
                                           detail text)
), mine AS (
    SELECT o.case_id, o.order_id, i.delay_s, i.detail
    FROM freeze_orders o
    JOIN input i ON o.case_id = i.case_id AND o.order_id = i.order_id AND o.attempts = i.attempts
    WHERE freeze_order_open(o.status) AND o.lease_owner = :owner
    ORDER BY o.case_id, o.order_id
    FOR NO KEY UPDATE OF o
), heads AS (
    -- The chain heads of those cases, locked in case_id order (see chain_lock.sql) once every
    -- order is locked: a volatile function in the select list runs after the sort.
    SELECT case_chain_lock(m.case_id) AS head
    FROM (SELECT DISTINCT case_id FROM mine) AS m
    ORDER BY m.case_id
), updated AS (
    UPDATE freeze_orders o
    SET next_attempt_at = stopay_now() + make_interval(secs => mine.delay_s),
        detail = mine.detail,
        lease_owner = NULL,
        lease_until = NULL
    FROM mine
    WHERE o.case_id = mine.case_id AND o.order_id = mine.order_id
    RETURNING o.case_id, o.order_id, o.attempts, o.next_attempt_at, o.detail
), events AS (
    INSERT INTO case_events (case_id, actor, kind, order_id, detail)
    SELECT u.case_id, :actor, 'order.retry_scheduled', u.order_id,
           jsonb_build_object('attempts', u.attempts, 'next_attempt_at', u.next_attempt_at, 'detail', u.detail)
    FROM updated u
    -- A one-time filter, evaluated before the first event is written: every head is locked by then.
    -- (Always true when there is anything to write.)
    WHERE (SELECT count(*) FROM heads) > 0
)
SELECT case_id, order_id FROM updated

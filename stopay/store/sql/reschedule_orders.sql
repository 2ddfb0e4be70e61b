-- Gives orders back after a delivery attempt that may pass (bank down, timeout, a statement that
-- started too late): the next attempt waits delay_s seconds by the database clock.
-- $1 jsonb array, $2 owner, $3 actor.
WITH input AS (
    SELECT *
    FROM jsonb_to_recordset($1::jsonb) AS i(case_id uuid, order_id uuid, delay_s float8, detail text)
), updated AS (
    UPDATE freeze_orders o
    SET next_attempt_at = now() + make_interval(secs => i.delay_s),
        detail = i.detail,
        lease_owner = NULL,
        lease_until = NULL
    FROM input i
    WHERE o.case_id = i.case_id AND o.order_id = i.order_id
      AND o.status IN ('queued', 'freezing') AND o.lease_owner = $2
    RETURNING o.case_id, o.order_id, o.attempts, o.next_attempt_at, o.detail
), events AS (
    INSERT INTO case_events (case_id, actor, kind, order_id, detail)
    SELECT u.case_id, $3, 'order.retry_scheduled', u.order_id,
           jsonb_build_object('attempts', u.attempts, 'next_attempt_at', u.next_attempt_at, 'detail', u.detail)
    FROM updated u
)
SELECT case_id, order_id FROM updated

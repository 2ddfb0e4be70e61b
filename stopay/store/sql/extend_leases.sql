-- Keeps :owner's leases on the open orders in :claims (jsonb array of {case_id, order_id, attempts}:
-- its claims not yet recorded) alive for :lease_s more seconds, by the database clock. An owner that dies
-- stops extending, and so does one whose recorder failed on an answer: those orders fall due again.
-- A lease that ran out while the database was away is kept too, as long as no other claim took the
-- order meanwhile (same owner, same attempts): the answer its owner kept is then recorded.
-- Rows are locked in key order, skipping any being recorded right now, so this never deadlocks
-- with the recorder.
WITH mine AS (
    SELECT o.case_id, o.order_id
    FROM freeze_orders o
    JOIN jsonb_to_recordset(:claims::jsonb) AS f(case_id uuid, order_id uuid, attempts int)
      ON o.case_id = f.case_id AND o.order_id = f.order_id AND o.attempts = f.attempts
    WHERE o.lease_owner = :owner AND freeze_order_open(o.status)
    ORDER BY o.case_id, o.order_id
    FOR NO KEY UPDATE OF o SKIP LOCKED
)
UPDATE freeze_orders o
SET lease_until = stopay_now() + make_interval(secs => :lease_s::float8),
    next_attempt_at = stopay_now() + make_interval(secs => :lease_s::float8)
FROM mine
WHERE o.case_id = mine.case_id AND o.order_id = mine.order_id

-- Warns of the open objection :objection_id once, when its deadline is within :warn_hours and not yet
-- past (by stopay_now()): sets warned_at and appends 'objection.due_soon' (:actor). The caller has
-- locked the case's chain head (chain_lock.sql). Returns the objection, or no row when there was
-- nothing to do (decided meanwhile, warned already, or not within the window).
WITH warned AS (
    UPDATE objections o SET warned_at = stopay_now()
    WHERE o.objection_id = :objection_id AND o.state = 'open' AND o.warned_at IS NULL
      AND o.due_at > stopay_now() AND o.due_at <= stopay_now() + make_interval(hours => :warn_hours::int)
    RETURNING o.*
), events AS (
    INSERT INTO case_events (case_id, actor, kind, detail)
    SELECT w.case_id, :actor, 'objection.due_soon',
           jsonb_build_object('objection_id', w.objection_id, 'bank_code', w.bank_code, 'due_at', w.due_at)
    FROM warned w
    RETURNING seq
)
SELECT w.*, false AS overdue, (SELECT count(*) FROM events) AS events FROM warned w

-- Escalates the open objection :objection_id once its deadline has passed undecided (by stopay_now()):
-- sets escalated_at and appends 'objection.escalated' (:actor), for the supervisor and the center,
-- who find it in ListObjections. The caller has locked the case's chain head (chain_lock.sql).
-- Returns the objection, or no row when there was nothing to do.
WITH escalated AS (
    UPDATE objections o SET escalated_at = stopay_now()
    WHERE o.objection_id = :objection_id AND o.state = 'open' AND o.escalated_at IS NULL
      AND o.due_at <= stopay_now()
    RETURNING o.*
), events AS (
    INSERT INTO case_events (case_id, actor, kind, detail)
    SELECT e.case_id, :actor, 'objection.escalated',
           jsonb_build_object('objection_id', e.objection_id, 'bank_code', e.bank_code, 'due_at', e.due_at,
                              'to', jsonb_build_array('supervisor', 'center'))
    FROM escalated e
    RETURNING seq
)
SELECT e.*, true AS overdue, (SELECT count(*) FROM events) AS events FROM escalated e

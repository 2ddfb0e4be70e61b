-- Decides the open objection :objection_id, locked by the caller (objection_lock.sql) with its chain
-- head: :decision ('release', 'release_part' or 'keep'), :reasons, :decided_by; appends
-- 'objection.decided' (:actor) with :request_id and, for a release or a partial release,
-- :released_minor (what the release order asks the bank back, kept on the objection too) and
-- :kept_minor (what the hold keeps held: 0 after a release).
-- Returns the objection as it now is.
WITH decided AS (
    UPDATE objections o
    SET state = 'decided', decision = :decision, reasons = :reasons, decided_by = :decided_by,
        decided_at = stopay_now(), released_minor = :released_minor::bigint
    WHERE o.objection_id = :objection_id AND o.state = 'open'
    RETURNING o.*
), events AS (
    INSERT INTO case_events (case_id, actor, kind, detail)
    SELECT d.case_id, :actor, 'objection.decided',
           jsonb_build_object('objection_id', d.objection_id, 'bank_code', d.bank_code,
                              'decision', d.decision, 'reasons', d.reasons, 'decided_by', d.decided_by,
                              'due_at', d.due_at, 'late', d.decided_at > d.due_at,
                              'released_minor', :released_minor::bigint, 'kept_minor', :kept_minor::bigint,
                              'request_id', :request_id::text)
    FROM decided d
    RETURNING seq
)
SELECT d.*, false AS overdue, (SELECT count(*) FROM events) AS events FROM decided d

-- Records the request $1 (approval_id) of a step that waits for a second identity: $2 the action
-- ('formalize' or 'return'), $3 the hold's case (null for a return), $4:$5 the account, $6 what the
-- approval rests on (basis), $7 the legal document, $8 major, $9 the reason, $10 its request_id
-- (claimed in hold_requests already), $11 who asked; and $12 the events [{case_id, kind, detail}]
-- it appends to the chains of the cases concerned, whose heads the caller has locked (chain_lock.sql).
-- Returns when it was asked.
WITH asked AS (
    INSERT INTO hold_approvals (approval_id, action, case_id, bank_code, account_number, basis, document, major,
                                reason, request_id, requested_by)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
    RETURNING requested_at
), events AS (
    INSERT INTO case_events (case_id, actor, kind, detail)
    SELECT e.case_id, $11, e.kind,
           e.detail || jsonb_build_object('bank_code', $4::text, 'approval_id', $1::text, 'action', $2::text)
    FROM jsonb_to_recordset($12::jsonb) AS e(case_id uuid, kind text, detail jsonb)
    RETURNING seq
)
SELECT requested_at, (SELECT count(*) FROM events) AS events FROM asked

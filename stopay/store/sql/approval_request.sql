-- Records the request :approval_id of a step that waits for a second identity: :action ('formalize' or
-- 'return'), :case_id the hold's case (null for a return), :bank_code/:account_number the account,
-- :basis what the approval rests on, :document the legal document, :major, :reason, :request_id its
-- request id (claimed in hold_requests already), :requested_by who asked; and :events the events
-- (store.holds.CaseEventRow) it appends to the chains of the cases concerned, whose heads the caller
-- has locked (chain_lock.sql). Returns when it was asked.
WITH asked AS (
    INSERT INTO hold_approvals (approval_id, action, case_id, bank_code, account_number, basis, document, major,
                                reason, request_id, requested_by)
    VALUES (:approval_id, :action, :case_id, :bank_code, :account_number, :basis, :document, :major,
            :reason, :request_id, :requested_by)
    RETURNING requested_at
), events AS (
    INSERT INTO case_events (case_id, actor, kind, detail)
    SELECT e.case_id, :requested_by, e.kind,
           e.detail || jsonb_build_object('bank_code', :bank_code::text, 'approval_id', :approval_id::text,
                                          'action', :action::text)
    FROM jsonb_to_recordset(:events::jsonb) AS e(case_id uuid, kind text, detail jsonb)
    RETURNING seq
)
SELECT requested_at, (SELECT count(*) FROM events) AS events FROM asked

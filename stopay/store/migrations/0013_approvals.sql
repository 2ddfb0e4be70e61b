-- stopay schema, version 14: four eyes on money leaving.
--
-- A formal freeze (Formalize) and a return of funds (ReturnFunds) take effect only when a second
-- identity approves them. The officer's request is recorded here as 'requested', with what it asks
-- (the legal document; the return's plan) and the state of the hold it was asked of (basis); the
-- approval ('approved') takes the step in the same transaction and records both identities in the
-- case's hash chain (event 'approval.granted').
--
-- The state only moves on, requested -> approved; a row is never deleted, and nothing but the
-- approval's own fields changes, once. The identity that asked never approves (checked here too).

CREATE TABLE hold_approvals (
    approval_id        uuid        PRIMARY KEY,
    action             text        NOT NULL CHECK (action IN ('formalize', 'return')),
    -- formalize: the hold's case; return: null (the return is of the account, across its cases).
    case_id            uuid,
    bank_code          text        NOT NULL,
    account_number     text        NOT NULL,
    -- formalize: {state, freezes} of the hold when asked; return: the plan
    -- {direct, parts: {case: minor}, flows: [[payer, payee, minor]], paying: {case: minor}}.
    basis              jsonb       NOT NULL,
    -- formalize: the legal document and whether the case is major.
    document           jsonb,
    major              boolean     NOT NULL DEFAULT false,
    reason             text        NOT NULL,
    request_id         text        NOT NULL UNIQUE REFERENCES hold_requests (request_id),
    requested_by       text        NOT NULL,
    requested_at       timestamptz NOT NULL DEFAULT stopay_now(),
    status             text        NOT NULL DEFAULT 'requested' CHECK (status IN ('requested', 'approved')),
    approved_by        text,
    approved_reason    text,
    approve_request_id text        UNIQUE REFERENCES hold_requests (request_id),
    approved_at        timestamptz,
    FOREIGN KEY (case_id, bank_code, account_number) REFERENCES holds (case_id, bank_code, account_number),
    CHECK ((action = 'formalize') = (case_id IS NOT NULL AND document IS NOT NULL)),
    CHECK ((status = 'approved') = (approved_by IS NOT NULL AND approved_reason IS NOT NULL
                                    AND approve_request_id IS NOT NULL AND approved_at IS NOT NULL)),
    CHECK (approved_by IS DISTINCT FROM requested_by)
);
CREATE INDEX hold_approvals_open ON hold_approvals (bank_code, account_number) WHERE status = 'requested';

CREATE FUNCTION hold_approvals_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'approvals are never deleted' USING ERRCODE = 'check_violation';
    END IF;
    IF NOT (OLD.status = 'requested' AND NEW.status = 'approved')
       OR (NEW.approval_id, NEW.action, NEW.case_id, NEW.bank_code, NEW.account_number, NEW.basis,
           NEW.document, NEW.major, NEW.reason, NEW.request_id, NEW.requested_by, NEW.requested_at)
          IS DISTINCT FROM
          (OLD.approval_id, OLD.action, OLD.case_id, OLD.bank_code, OLD.account_number, OLD.basis,
           OLD.document, OLD.major, OLD.reason, OLD.request_id, OLD.requested_by, OLD.requested_at) THEN
        RAISE EXCEPTION 'approval % can only move from requested to approved, once (it is %)',
            OLD.approval_id, OLD.status USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER hold_approvals_guard BEFORE UPDATE OR DELETE ON hold_approvals
    FOR EACH ROW EXECUTE FUNCTION hold_approvals_guard();

-- A hold as its readers show it, now with the approvals it waits for: a formal freeze asked of it
-- while it is still as it was when asked, and a return of its account while it is a formal freeze.
CREATE OR REPLACE VIEW hold_views AS
SELECT h.case_id, h.bank_code, h.account_number, h.state, h.stops, h.max_stops, h.freezes, h.major,
       h.document, h.stopped_at, h.expires_at, h.warned_at, h.return_due_at, h.return_paid_at,
       h.ended_at, h.end_reason, coalesce(t.held_minor, 0) AS held_minor, t.holder_name,
       h.expires_at <= stopay_now() AS expired,
       (SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'approval_id', a.approval_id, 'action', a.action, 'requested_by', a.requested_by,
                   'reason', a.reason, 'requested_at', a.requested_at, 'document', a.document,
                   'major', a.major,
                   'amount_minor', CASE a.action WHEN 'formalize' THEN (a.document ->> 'amount_minor')::bigint
                                   ELSE coalesce((a.basis -> 'paying' ->> h.case_id::text)::bigint, 0) END)
                   ORDER BY a.requested_at, a.approval_id), '[]'::jsonb)
        FROM hold_approvals a
        WHERE a.status = 'requested' AND a.bank_code = h.bank_code AND a.account_number = h.account_number
          AND ((a.action = 'formalize' AND a.case_id = h.case_id AND a.basis ->> 'state' = h.state
                AND (a.basis ->> 'freezes')::int = h.freezes AND h.expires_at > stopay_now())
               OR (a.action = 'return' AND h.state = 'frozen' AND a.basis -> 'paying' ? h.case_id::text))
       ) AS pending
FROM holds h
LEFT JOIN trail_accounts t
       ON t.case_id = h.case_id AND t.bank_code = h.bank_code AND t.account_number = h.account_number;

-- stopay schema, version 22: a holder's objection to a hold, with a deadline (docs/holds.md,
-- Objections; docs/rules.md, Objections).
--
-- The holder of an account a case holds money on may object: through the bank (BankGateway) or at a
-- station, where an officer takes it. An objection names the hold (case and account), who filed it,
-- how (via 'bank' or 'station') and who took it, its grounds and the documents it refers to. It is
-- due a decision by due_at (filed_at plus the configured deadline, HoldPolicy.objection_days). The
-- sweeper warns of it once before then (warned_at) and escalates it, once, when due_at passes
-- undecided (escalated_at). An officer or supervisor decides it: 'release' (the hold is released in
-- the same transaction, and its release order goes to the bank) or 'keep', each with reasons.
--
-- The database keeps the life: an objection moves only from 'open' to 'decided', and a decided one
-- never changes; what was filed never changes; warned_at and escalated_at are set once; nothing is
-- deleted. One objection is open per hold at a time. request_id is the filing's idempotency key
-- (claimed in hold_requests too, as every hold step's is).
CREATE TABLE objections (
    objection_id    uuid        PRIMARY KEY,
    case_id         uuid        NOT NULL,
    bank_code       text        NOT NULL,
    account_number  text        NOT NULL,
    holder_name     text        NOT NULL CHECK (holder_name <> ''),
    via             text        NOT NULL CHECK (via IN ('bank', 'station')),
    taken_by        text        NOT NULL CHECK (taken_by <> ''),
    grounds         text        NOT NULL CHECK (grounds <> ''),
    documents       jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(documents) = 'array'),
    request_id      text        NOT NULL UNIQUE,
    filed_at        timestamptz NOT NULL DEFAULT stopay_now(),
    due_at          timestamptz NOT NULL,
    warned_at       timestamptz,
    escalated_at    timestamptz,
    state           text        NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'decided')),
    decision        text        CHECK (decision IN ('release', 'keep')),
    reasons         text,
    decided_by      text,
    decided_at      timestamptz,
    FOREIGN KEY (case_id, bank_code, account_number) REFERENCES holds (case_id, bank_code, account_number),
    CHECK (due_at > filed_at),
    CHECK ((state = 'decided') = (decision IS NOT NULL AND reasons IS NOT NULL AND reasons <> ''
                                  AND decided_by IS NOT NULL AND decided_at IS NOT NULL)),
    CHECK (state = 'decided' OR (decision IS NULL AND reasons IS NULL AND decided_by IS NULL
                                 AND decided_at IS NULL))
);
-- One open objection per hold; the sweeper's view of the open ones by deadline.
CREATE UNIQUE INDEX objections_one_open ON objections (case_id, bank_code, account_number) WHERE state = 'open';
CREATE INDEX objections_open_by_due ON objections (due_at) WHERE state = 'open';
CREATE INDEX objections_by_case ON objections (case_id, filed_at);

CREATE FUNCTION objections_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'objections are never deleted' USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.state = 'decided' AND NEW IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'objection % is decided and cannot change', OLD.objection_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.state <> OLD.state AND NOT (OLD.state = 'open' AND NEW.state = 'decided') THEN
        RAISE EXCEPTION 'objection % cannot move from % to %', OLD.objection_id, OLD.state, NEW.state
            USING ERRCODE = 'check_violation';
    END IF;
    IF (NEW.objection_id, NEW.case_id, NEW.bank_code, NEW.account_number, NEW.holder_name, NEW.via,
        NEW.taken_by, NEW.grounds, NEW.documents, NEW.request_id, NEW.filed_at, NEW.due_at)
       IS DISTINCT FROM
       (OLD.objection_id, OLD.case_id, OLD.bank_code, OLD.account_number, OLD.holder_name, OLD.via,
        OLD.taken_by, OLD.grounds, OLD.documents, OLD.request_id, OLD.filed_at, OLD.due_at)
       OR (OLD.warned_at IS NOT NULL AND NEW.warned_at IS DISTINCT FROM OLD.warned_at)
       OR (OLD.escalated_at IS NOT NULL AND NEW.escalated_at IS DISTINCT FROM OLD.escalated_at) THEN
        RAISE EXCEPTION 'objection % is immutable but for its warning, escalation and decision', OLD.objection_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER objections_guard BEFORE UPDATE OR DELETE ON objections
    FOR EACH ROW EXECUTE FUNCTION objections_guard();

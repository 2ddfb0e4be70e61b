-- stopay schema, version 8: one trail per transfer.
-- A transfer is known by its payer account, its payee account and the bank's txn_id. The first
-- case that reports it traces it; a later case that reports the same transfer (another entry,
-- another station) records it, is linked to the first, and traces and freezes nothing for it.
-- The unique key of transfer_owners decides which case came first, so two stations submitting
-- the same transfer at the same moment still give one trail (docs/tracing.md).

CREATE TABLE transfer_owners (
    payer_bank      text        NOT NULL,
    payer_number    text        NOT NULL,
    payee_bank      text        NOT NULL,
    payee_number    text        NOT NULL,
    txn_id          text        NOT NULL,
    -- The case that traces the transfer, its station, and when it was accepted.
    case_id         uuid        NOT NULL REFERENCES cases (case_id),
    station_id      text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (payer_bank, payer_number, payee_bank, payee_number, txn_id)
);

-- The owner of a transfer never changes, and is never forgotten. submit_entry.sql updates a row
-- to itself (ON CONFLICT DO UPDATE) only to read the owner that won a race.
CREATE FUNCTION transfer_owners_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' OR NEW IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'the case tracing a transfer never changes' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER transfer_owners_guard BEFORE UPDATE OR DELETE ON transfer_owners
    FOR EACH ROW EXECUTE FUNCTION transfer_owners_guard();
CREATE TRIGGER transfer_owners_no_truncate BEFORE TRUNCATE ON transfer_owners
    FOR EACH STATEMENT EXECUTE FUNCTION transfer_owners_guard();

-- The case that traces a transfer this case reported again; NULL when this case traces it.
ALTER TABLE entry_transfers ADD COLUMN linked_case_id uuid REFERENCES cases (case_id);
CREATE INDEX entry_transfers_linked ON entry_transfers (linked_case_id) WHERE linked_case_id IS NOT NULL;

-- Cases accepted before this version were each traced: the earliest of them owns the transfer,
-- and none is linked after the fact (their orders exist).
INSERT INTO transfer_owners (payer_bank, payer_number, payee_bank, payee_number, txn_id, case_id,
                             station_id, created_at)
SELECT DISTINCT ON (t.payer_bank, t.payer_number, t.payee_bank, t.payee_number, t.txn_id)
       t.payer_bank, t.payer_number, t.payee_bank, t.payee_number, t.txn_id, c.case_id,
       c.station_id, c.created_at
FROM entry_transfers t
JOIN cases c ON c.case_id = t.case_id
ORDER BY t.payer_bank, t.payer_number, t.payee_bank, t.payee_number, t.txn_id, c.created_at, c.case_id;

-- A case that reports a transfer again shows on the first case too: wake its watchers.
CREATE FUNCTION entry_transfers_linked_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('stopay_case', NEW.linked_case_id::text);
    RETURN NULL;
END $$;
CREATE TRIGGER entry_transfers_linked_notify AFTER INSERT ON entry_transfers
    FOR EACH ROW WHEN (NEW.linked_case_id IS NOT NULL) EXECUTE FUNCTION entry_transfers_linked_notify();

-- linked_minor: reported by the case, traced by another. It is neither held nor unresolved here.
DROP VIEW case_summaries;
CREATE VIEW case_summaries AS
SELECT c.case_id, c.entry_id, c.station_id, c.officer_id, c.report_no, c.victim_name,
       c.fraud_type, c.currency, c.reported_minor, c.created_at, c.rule, c.max_depth, c.min_amount,
       x.exited_minor, o.held_minor, o.order_count, o.open_orders, r.returned_minor, l.linked_minor
FROM cases c
CROSS JOIN LATERAL (
    SELECT COALESCE(sum(held_minor - released_minor), 0)::bigint AS held_minor,
           count(*)::int AS order_count,
           count(*) FILTER (WHERE status IN ('queued', 'freezing', 'pending'))::int AS open_orders
    FROM freeze_orders WHERE case_id = c.case_id
) o
CROSS JOIN LATERAL (
    SELECT COALESCE(sum(amount_minor), 0)::bigint AS exited_minor FROM trail_exits WHERE case_id = c.case_id
) x
CROSS JOIN LATERAL (
    SELECT COALESCE(sum(released_minor), 0)::bigint AS returned_minor FROM freeze_orders
    WHERE kind = 'return' AND params ->> 'beneficiary_case' = c.case_id::text
) r
CROSS JOIN LATERAL (
    SELECT COALESCE(sum(amount_minor), 0)::bigint AS linked_minor FROM entry_transfers
    WHERE case_id = c.case_id AND linked_case_id IS NOT NULL
) l;

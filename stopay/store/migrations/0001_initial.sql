-- stopay schema, version 1: cases, their transfers, freeze orders, bank answers and the event log.
-- Every table carries case_id and leads its primary key with it, so that a distributed PostgreSQL
-- (Citus) can shard all of them by case_id and keep one case's rows together.

CREATE TABLE cases (
    case_id         uuid        PRIMARY KEY,
    entry_id        text        NOT NULL,
    payload_sha256  bytea       NOT NULL,
    station_id      text        NOT NULL,
    officer_id      text        NOT NULL,
    report_no       text        NOT NULL,
    victim_name     text        NOT NULL,
    victim_id_number text       NOT NULL DEFAULT '',
    victim_phone    text        NOT NULL DEFAULT '',
    fraud_type      integer     NOT NULL DEFAULT 0,
    narrative       text        NOT NULL DEFAULT '',
    currency        char(3)     NOT NULL,
    reported_minor  bigint      NOT NULL CHECK (reported_minor > 0),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cases_by_station ON cases (station_id, created_at DESC, case_id DESC);
CREATE INDEX cases_by_time ON cases (created_at DESC, case_id DESC);

CREATE TABLE entry_transfers (
    case_id         uuid        NOT NULL REFERENCES cases (case_id),
    ordinal         integer     NOT NULL,
    txn_id          text        NOT NULL,
    payer_bank      text        NOT NULL,
    payer_number    text        NOT NULL,
    payer_holder    text        NOT NULL,
    payee_bank      text        NOT NULL,
    payee_number    text        NOT NULL,
    payee_holder    text        NOT NULL,
    amount_minor    bigint      NOT NULL CHECK (amount_minor > 0),
    currency        char(3)     NOT NULL,
    transferred_at  timestamptz NOT NULL,
    channel         text        NOT NULL DEFAULT '',
    PRIMARY KEY (case_id, ordinal),
    UNIQUE (case_id, txn_id)
);

-- The allowed moves of an order's status; the trigger below refuses every other.
CREATE TABLE freeze_order_transitions (
    from_status text NOT NULL,
    to_status   text NOT NULL,
    PRIMARY KEY (from_status, to_status)
);
INSERT INTO freeze_order_transitions (from_status, to_status) VALUES
    ('queued', 'pending'), ('queued', 'held'), ('queued', 'partially_held'),
    ('queued', 'moved_on'), ('queued', 'rejected'), ('queued', 'undeliverable'),
    ('pending', 'held'), ('pending', 'partially_held'), ('pending', 'moved_on'),
    ('pending', 'rejected'), ('pending', 'undeliverable');

CREATE TABLE freeze_orders (
    case_id         uuid        NOT NULL REFERENCES cases (case_id),
    order_id        uuid        NOT NULL,
    parent_order_id uuid,
    level           integer     NOT NULL CHECK (level >= 1),
    bank_code       text        NOT NULL,
    account_number  text        NOT NULL,
    holder_name     text        NOT NULL,
    currency        char(3)     NOT NULL,
    requested_minor bigint      NOT NULL CHECK (requested_minor > 0),
    held_minor      bigint      NOT NULL DEFAULT 0,
    -- The transfers that carried the victim's money in: [{txn_id, amount_minor, at, payer_bank, payer_number, payer_holder}]
    incoming        jsonb       NOT NULL,
    status          text        NOT NULL DEFAULT 'queued' CHECK (status IN
                        ('queued', 'pending', 'held', 'partially_held', 'moved_on', 'rejected', 'undeliverable')),
    reason_code     text        NOT NULL DEFAULT '',
    detail          text        NOT NULL DEFAULT '',
    idempotency_key text        NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_owner     text,
    lease_until     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz,
    PRIMARY KEY (case_id, order_id),
    CHECK (held_minor >= 0 AND held_minor <= requested_minor),
    CHECK ((status IN ('queued', 'pending')) = (resolved_at IS NULL)),
    CHECK (status IN ('held', 'partially_held') OR held_minor = 0)
);
-- The dispatcher's claim reads only this small index: orders still to be delivered.
CREATE INDEX freeze_orders_due ON freeze_orders (next_attempt_at) WHERE status = 'queued';

CREATE FUNCTION freeze_orders_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.case_id <> OLD.case_id OR NEW.order_id <> OLD.order_id OR NEW.level <> OLD.level
       OR NEW.requested_minor <> OLD.requested_minor OR NEW.idempotency_key <> OLD.idempotency_key
       OR NEW.bank_code <> OLD.bank_code OR NEW.account_number <> OLD.account_number THEN
        RAISE EXCEPTION 'freeze order % is immutable but for its status and delivery', OLD.order_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.status <> OLD.status AND NOT EXISTS (
        SELECT 1 FROM freeze_order_transitions t
        WHERE t.from_status = OLD.status AND t.to_status = NEW.status) THEN
        RAISE EXCEPTION 'freeze order % cannot move from % to %', OLD.order_id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.status NOT IN ('queued', 'pending') AND NEW IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'freeze order % is settled (%) and cannot change', OLD.order_id, OLD.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER freeze_orders_guard BEFORE UPDATE ON freeze_orders
    FOR EACH ROW EXECUTE FUNCTION freeze_orders_guard();
CREATE FUNCTION freeze_orders_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'freeze orders are never deleted' USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER freeze_orders_no_delete BEFORE DELETE ON freeze_orders
    FOR EACH ROW EXECUTE FUNCTION freeze_orders_no_delete();

-- Wake dispatchers when there is new work, and case watchers when a case changes. PostgreSQL
-- folds identical notifications of one transaction into one.
CREATE FUNCTION freeze_orders_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' AND NEW.status = 'queued' THEN
        PERFORM pg_notify('stopay_orders', '');
    END IF;
    PERFORM pg_notify('stopay_case', NEW.case_id::text);
    RETURN NULL;
END $$;
CREATE TRIGGER freeze_orders_notify AFTER INSERT OR UPDATE OF status, held_minor, attempts ON freeze_orders
    FOR EACH ROW EXECUTE FUNCTION freeze_orders_notify();

-- Every bank answer that moved an order, kept as received, statement included.
CREATE TABLE bank_answers (
    case_id         uuid        NOT NULL,
    order_id        uuid        NOT NULL,
    answer_no       bigint      GENERATED ALWAYS AS IDENTITY,
    received_at     timestamptz NOT NULL DEFAULT now(),
    status_code     text        NOT NULL,
    held_minor      bigint      NOT NULL CHECK (held_minor >= 0),
    balance_minor   bigint,
    reason_code     text        NOT NULL DEFAULT '',
    bank_reference  text        NOT NULL DEFAULT '',
    statement       jsonb,
    PRIMARY KEY (case_id, order_id, answer_no),
    FOREIGN KEY (case_id, order_id) REFERENCES freeze_orders (case_id, order_id)
);

-- Append-only log of every state change: who, what, when by the database clock.
CREATE TABLE case_events (
    case_id         uuid        NOT NULL REFERENCES cases (case_id),
    seq             bigint      GENERATED ALWAYS AS IDENTITY,
    at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor           text        NOT NULL,
    kind            text        NOT NULL,
    order_id        uuid,
    detail          jsonb       NOT NULL DEFAULT '{}',
    PRIMARY KEY (case_id, seq)
);
CREATE FUNCTION case_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'case_events is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER case_events_append_only BEFORE UPDATE OR DELETE ON case_events
    FOR EACH ROW EXECUTE FUNCTION case_events_append_only();
CREATE TRIGGER case_events_no_truncate BEFORE TRUNCATE ON case_events
    FOR EACH STATEMENT EXECUTE FUNCTION case_events_append_only();

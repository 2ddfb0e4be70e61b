-- stopay schema, version 2: following the money level by level.
-- An order now first asks its bank for the account's statement ('queued'), then freezes exactly the
-- victim's money that the case's attribution rule finds there ('freezing'). What stopay knows of
-- each account in a case lives in trail_accounts; money traced out of the network in trail_exits.

ALTER TABLE cases
    ADD COLUMN rule text NOT NULL DEFAULT 'libr'
        CHECK (rule IN ('fifo', 'lifo', 'pro_rata', 'libr', 'taint_first')),
    ADD COLUMN max_depth integer NOT NULL DEFAULT 5 CHECK (max_depth BETWEEN 1 AND 50),
    ADD COLUMN min_amount bigint NOT NULL DEFAULT 10000 CHECK (min_amount >= 0);

ALTER TABLE freeze_orders
    -- What the freeze asks the bank to hold, once the statement has sized it.
    ADD COLUMN freeze_minor bigint CHECK (freeze_minor > 0),
    DROP CONSTRAINT freeze_orders_requested_minor_check,
    ADD CONSTRAINT freeze_orders_requested_minor_check CHECK (requested_minor >= 0),
    DROP CONSTRAINT freeze_orders_check,
    ADD CONSTRAINT freeze_orders_held_check CHECK (held_minor >= 0 AND held_minor <= coalesce(freeze_minor, 0)),
    DROP CONSTRAINT freeze_orders_status_check,
    ADD CONSTRAINT freeze_orders_status_check CHECK (status IN
        ('queued', 'freezing', 'pending', 'held', 'partially_held', 'moved_on', 'rejected', 'undeliverable')),
    DROP CONSTRAINT freeze_orders_check1,
    ADD CONSTRAINT freeze_orders_resolved_check CHECK (
        (status IN ('queued', 'freezing', 'pending')) = (resolved_at IS NULL)),
    ADD CONSTRAINT freeze_orders_sized_check CHECK (status <> 'freezing' OR freeze_minor IS NOT NULL);

INSERT INTO freeze_order_transitions (from_status, to_status) VALUES
    ('queued', 'freezing'),
    ('freezing', 'pending'), ('freezing', 'held'), ('freezing', 'partially_held'),
    ('freezing', 'moved_on'), ('freezing', 'rejected'), ('freezing', 'undeliverable');

DROP INDEX freeze_orders_due;
CREATE INDEX freeze_orders_due ON freeze_orders (next_attempt_at) WHERE status IN ('queued', 'freezing');

CREATE OR REPLACE FUNCTION freeze_orders_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.case_id <> OLD.case_id OR NEW.order_id <> OLD.order_id OR NEW.level <> OLD.level
       OR NEW.requested_minor <> OLD.requested_minor OR NEW.idempotency_key <> OLD.idempotency_key
       OR NEW.bank_code <> OLD.bank_code OR NEW.account_number <> OLD.account_number
       OR NEW.freeze_minor IS DISTINCT FROM OLD.freeze_minor AND OLD.freeze_minor IS NOT NULL THEN
        RAISE EXCEPTION 'freeze order % is immutable but for its status and delivery', OLD.order_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.status <> OLD.status AND NOT EXISTS (
        SELECT 1 FROM freeze_order_transitions t
        WHERE t.from_status = OLD.status AND t.to_status = NEW.status) THEN
        RAISE EXCEPTION 'freeze order % cannot move from % to %', OLD.order_id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.status NOT IN ('queued', 'freezing', 'pending') AND NEW IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'freeze order % is settled (%) and cannot change', OLD.order_id, OLD.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

-- Wake dispatchers when an order has a bank request due: new, or sized and ready to freeze.
CREATE OR REPLACE FUNCTION freeze_orders_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IN ('queued', 'freezing') AND (TG_OP = 'INSERT' OR OLD.status <> NEW.status) THEN
        PERFORM pg_notify('stopay_orders', '');
    END IF;
    PERFORM pg_notify('stopay_case', NEW.case_id::text);
    RETURN NULL;
END $$;

-- What stopay knows of one account in one case. Rows are locked while an answer about the account
-- is applied, so two paths into one account never freeze the same money twice.
CREATE TABLE trail_accounts (
    case_id         uuid        NOT NULL REFERENCES cases (case_id),
    bank_code       text        NOT NULL,
    account_number  text        NOT NULL,
    holder_name     text        NOT NULL,
    level           integer     NOT NULL CHECK (level >= 1),
    -- txn_id -> {txn_id, amount_minor, at, payer_bank, payer_number, payer_holder, parts, rev}
    incoming        jsonb       NOT NULL DEFAULT '{}',
    -- debit txn_id -> parts sent on to the receiving account
    sent            jsonb       NOT NULL DEFAULT '{}',
    rev             integer     NOT NULL DEFAULT 0,
    left_minor      bigint      NOT NULL DEFAULT 0 CHECK (left_minor >= 0),
    held_minor      bigint      NOT NULL DEFAULT 0 CHECK (held_minor >= 0),
    in_flight_minor bigint      NOT NULL DEFAULT 0 CHECK (in_flight_minor >= 0),
    gaps            jsonb       NOT NULL DEFAULT '{}',
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, bank_code, account_number)
);

-- The victim's money traced out of the banking network (cash, ATM, merchant, crypto, ...).
CREATE TABLE trail_exits (
    case_id         uuid        NOT NULL REFERENCES cases (case_id),
    txn_id          text        NOT NULL,
    order_id        uuid        NOT NULL,
    bank_code       text        NOT NULL,
    account_number  text        NOT NULL,
    level           integer     NOT NULL,
    exit_kind       text        NOT NULL,
    amount_minor    bigint      NOT NULL CHECK (amount_minor >= 0),
    exited_at       timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, txn_id)
);

-- stopay schema, version 3: giving back money held in excess.
-- Tracing learns about an account bit by bit. When a later statement shows that less of the
-- victim's money is at an account than the case already holds there, a release order gives the
-- difference back to the account holder. Orders are now of two kinds: 'freeze' and 'release'.

ALTER TABLE freeze_orders
    ADD COLUMN kind text NOT NULL DEFAULT 'freeze' CHECK (kind IN ('freeze', 'release')),
    ADD COLUMN released_minor bigint NOT NULL DEFAULT 0,
    DROP CONSTRAINT freeze_orders_status_check,
    ADD CONSTRAINT freeze_orders_status_check CHECK (status IN
        ('queued', 'freezing', 'pending', 'held', 'partially_held', 'moved_on', 'rejected',
         'undeliverable', 'released')),
    ADD CONSTRAINT freeze_orders_kind_status_check CHECK (CASE kind
        WHEN 'release' THEN status IN ('queued', 'released', 'rejected', 'undeliverable')
        ELSE status <> 'released' END),
    ADD CONSTRAINT freeze_orders_released_check CHECK (
        released_minor >= 0 AND released_minor <= requested_minor AND (kind = 'release' OR released_minor = 0));

INSERT INTO freeze_order_transitions (from_status, to_status) VALUES ('queued', 'released');

ALTER TABLE trail_accounts
    -- Releases asked for and not yet answered.
    ADD COLUMN releasing_minor bigint NOT NULL DEFAULT 0 CHECK (releasing_minor >= 0);

CREATE OR REPLACE FUNCTION freeze_orders_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.case_id <> OLD.case_id OR NEW.order_id <> OLD.order_id OR NEW.level <> OLD.level
       OR NEW.kind <> OLD.kind
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

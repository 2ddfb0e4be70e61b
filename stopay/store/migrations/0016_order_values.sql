-- stopay schema, version 16: one definition of an open freeze order.
--
-- An order is open while a bank request of it is still to come or to be answered: queued, freezing
-- or pending. The queries that ask (claim_orders.sql, reschedule_orders.sql, extend_leases.sql,
-- trail_orders.sql, trail_apply.sql) and the check tying resolved_at to the status call
-- freeze_order_open(status) instead of writing the list out; the domain's twin is
-- stopay.domain.orders.OPEN, and a test checks that the two agree.
--
-- The function is a plain SQL expression, IMMUTABLE, so the planner inlines it: a query's
-- freeze_order_open(status) becomes status = ANY ('{queued,freezing,pending}') before planning, and
-- the claim still uses the partial index freeze_orders_due, whose predicate is rebuilt here from
-- the same function (an index predicate is inlined the same way, so the two are the same
-- expression).
CREATE FUNCTION freeze_order_open(status text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT status IN ('queued', 'freezing', 'pending') $$;

DROP INDEX freeze_orders_due;
CREATE INDEX freeze_orders_due ON freeze_orders (next_attempt_at) WHERE freeze_order_open(status);

-- A settled order has its resolved_at, an open one none (0002), said with the one definition.
ALTER TABLE freeze_orders
    DROP CONSTRAINT freeze_orders_resolved_check,
    ADD CONSTRAINT freeze_orders_resolved_check CHECK (freeze_order_open(status) = (resolved_at IS NULL));

-- An operator's retry (a new order with retry_of set) is decided in the domain
-- (stopay.domain.orders.retry_plan) and written by store/sql/retry_order.sql. This guard mirrors
-- the rule, so no writer can get past it: only an undeliverable order of the same case is retried,
-- and an extension only while the case's hold on the account is live (stopped or frozen).
CREATE FUNCTION freeze_orders_retry_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    failed freeze_orders;
BEGIN
    SELECT * INTO failed FROM freeze_orders WHERE case_id = NEW.case_id AND order_id = NEW.retry_of;
    IF NOT FOUND OR failed.status <> 'undeliverable' THEN
        RAISE EXCEPTION 'order % of case % is not undeliverable: it cannot be retried', NEW.retry_of, NEW.case_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF failed.kind = 'extend' AND NOT EXISTS (
        SELECT 1 FROM holds h
        WHERE h.case_id = failed.case_id AND h.bank_code = failed.bank_code
          AND h.account_number = failed.account_number AND h.state IN ('stopped', 'frozen')
    ) THEN
        RAISE EXCEPTION 'the hold order % would extend has ended: it cannot be retried', NEW.retry_of
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER freeze_orders_retry_guard BEFORE INSERT ON freeze_orders
    FOR EACH ROW WHEN (NEW.retry_of IS NOT NULL) EXECUTE FUNCTION freeze_orders_retry_guard();

-- stopay schema, version 16: one definition of an open freeze order.
--
-- An order is open while a bank request of it is still to come or to be answered: queued, freezing
-- or pending. The queries that ask (claim_orders.sql, reschedule_orders.sql, extend_leases.sql,
-- trail_orders.sql, trail_apply.sql) call freeze_order_open(status) instead of writing the list
-- out; the domain's twin is stopay.domain.orders.OPEN, and a test checks that the two agree.
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

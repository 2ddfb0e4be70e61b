-- stopay schema, version 17: "open" is spelled once in the schema too.
--
-- The case summary's count of open orders (which says when a case is settled) and the guard that
-- keeps a settled order unchanged asked for the open statuses by listing them; both now ask
-- freeze_order_open (migration 0016), the database's copy of stopay.domain.orders.OPEN.
--
-- hold_warn_due (migration 0007) is no longer called: the warning window is the domain's
-- (HoldPolicy.warning, warn_due). It stays for a replica of the previous release still running
-- during a rolling upgrade, and goes in a later migration.

CREATE OR REPLACE VIEW case_summaries AS
SELECT c.case_id, c.entry_id, c.station_id, c.officer_id, c.report_no, c.victim_name,
       c.fraud_type, c.currency, c.reported_minor, c.created_at, c.rule, c.max_depth, c.min_amount,
       x.exited_minor, o.held_minor, o.order_count, o.open_orders, r.returned_minor,
       l.linked_minor, x.back_with_victim_minor
FROM cases c
CROSS JOIN LATERAL (
    SELECT COALESCE(sum(held_minor - released_minor), 0)::bigint AS held_minor,
           count(*)::int AS order_count,
           count(*) FILTER (WHERE freeze_order_open(status))::int AS open_orders
    FROM freeze_orders WHERE case_id = c.case_id
) o
CROSS JOIN LATERAL (
    SELECT COALESCE(sum(amount_minor) FILTER (WHERE exit_kind <> 'BACK_WITH_VICTIM'), 0)::bigint AS exited_minor,
           COALESCE(sum(amount_minor) FILTER (WHERE exit_kind = 'BACK_WITH_VICTIM'), 0)::bigint
               AS back_with_victim_minor
    FROM trail_exits WHERE case_id = c.case_id
) x
CROSS JOIN LATERAL (
    SELECT COALESCE(sum(released_minor), 0)::bigint AS returned_minor FROM freeze_orders
    WHERE kind = 'return' AND params ->> 'beneficiary_case' = c.case_id::text
) r
CROSS JOIN LATERAL (
    SELECT COALESCE(sum(amount_minor), 0)::bigint AS linked_minor FROM entry_transfers
    WHERE case_id = c.case_id AND linked_case_id IS NOT NULL
) l;

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
    IF NOT freeze_order_open(OLD.status) AND NEW IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'freeze order % is settled (%) and cannot change', OLD.order_id, OLD.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

-- stopay schema, version 11: money back with the victim.
--
-- Money that a mule pays back to an account the victim paid from (a fake "profit withdrawal") is
-- back with the victim: the trail ends there. trail_exits records such an end with the exit_kind
-- 'BACK_WITH_VICTIM'; it counts as its own figure, back_with_victim_minor, never as exited.

DROP VIEW case_summaries;
CREATE VIEW case_summaries AS
SELECT c.case_id, c.entry_id, c.station_id, c.officer_id, c.report_no, c.victim_name,
       c.fraud_type, c.currency, c.reported_minor, c.created_at, c.rule, c.max_depth, c.min_amount,
       x.exited_minor, o.held_minor, o.order_count, o.open_orders, r.returned_minor,
       l.linked_minor, x.back_with_victim_minor
FROM cases c
CROSS JOIN LATERAL (
    SELECT COALESCE(sum(held_minor - released_minor), 0)::bigint AS held_minor,
           count(*)::int AS order_count,
           count(*) FILTER (WHERE status IN ('queued', 'freezing', 'pending'))::int AS open_orders
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

-- Totals over the cases accepted in [:since, :until), of the station :station_id only (NULL: of
-- every station), counting only the orders at the bank :bank_code (NULL: at every bank), with the time
-- from an entry's acceptance to each hold (database clock).
-- Returned: paid back to the picked cases' victims (from whichever case's hold paid it, at :bank_code).
-- Reported: a transfer that two picked cases reported (linked) counts once, in the case tracing it.
-- Back with the victim: paid by the trail to an account the victim paid from (not exited).
WITH picked AS (
    SELECT c.case_id, c.reported_minor, c.created_at
    FROM cases c
    WHERE c.created_at >= :since AND c.created_at < :until
      AND (:station_id::text IS NULL OR c.station_id = :station_id)
), orders AS (
    SELECT o.kind, o.held_minor, o.released_minor, o.resolved_at, p.created_at AS case_created_at
    FROM freeze_orders o
    JOIN picked p ON p.case_id = o.case_id
    WHERE :bank_code::text IS NULL OR o.bank_code = :bank_code
), holds AS (
    SELECT extract(epoch FROM o.resolved_at - o.case_created_at) * 1000 AS ms
    FROM orders o
    WHERE o.kind IN ('freeze', 'stop') AND o.held_minor > 0
), percentiles AS (
    SELECT count(*)::int AS holds,
           percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY ms) AS p
    FROM holds
)
SELECT (SELECT count(*) FROM picked)::int AS cases,
       ((SELECT coalesce(sum(reported_minor), 0) FROM picked)
        - (SELECT coalesce(sum(t.amount_minor), 0) FROM entry_transfers t
           JOIN picked p ON p.case_id = t.case_id
           JOIN picked f ON f.case_id = t.linked_case_id))::bigint AS reported_minor,
       (SELECT coalesce(sum(held_minor - released_minor), 0) FROM orders)::bigint AS held_minor,
       (SELECT coalesce(sum(r.released_minor), 0) FROM freeze_orders r JOIN picked p
          ON r.kind = 'return' AND r.params ->> 'beneficiary_case' = p.case_id::text
         WHERE :bank_code::text IS NULL OR r.bank_code = :bank_code)::bigint AS returned_minor,
       (SELECT coalesce(sum(x.amount_minor), 0) FROM trail_exits x JOIN picked p ON p.case_id = x.case_id
         WHERE (:bank_code::text IS NULL OR x.bank_code = :bank_code) AND x.exit_kind <> 'BACK_WITH_VICTIM')::bigint AS exited_minor,
       (SELECT coalesce(sum(x.amount_minor), 0) FROM trail_exits x JOIN picked p ON p.case_id = x.case_id
         WHERE (:bank_code::text IS NULL OR x.bank_code = :bank_code) AND x.exit_kind = 'BACK_WITH_VICTIM')::bigint
         AS back_with_victim_minor,
       (SELECT count(*) FROM orders)::int AS orders,
       percentiles.holds, percentiles.p[1] AS p50_ms, percentiles.p[2] AS p90_ms, percentiles.p[3] AS p99_ms
FROM percentiles

-- The statistics of a report (docs/audit.md, "Statistics"): the cases whose victim reported in
-- [:since, :until), of the station :station_id only (NULL: of every station), counting only the
-- orders, returns and exits at the bank :bank_code (NULL: at every bank), one row per group in
-- order of its key.
-- The victim's report: the case's earliest transfer (entry_transfers.transferred_at); stopay stores
-- no other time of it.
-- :group_by is 'fraud_type' (the key is the FraudType number as text), 'station', 'month' (the
-- calendar month of the report at :utc_offset_minutes east of UTC, moved on by :key_shift_months
-- so that a year earlier keys as the period asked for) or anything else: one group 'all'.
-- Stopped and frozen: what stop orders, and stop and freeze orders in all, held as the banks
-- answered (gross of later releases). Reported: a transfer the case reported again (linked to the
-- case that traces it) counts in that other case only.
-- Report to hold: milliseconds (floored) from the report to the case's first hold (the earliest
-- resolved_at of a stop or freeze order holding money), per case; percentile_disc, so each
-- percentile is a time some case took. Every lookup is per case by key or one aggregate pass.
WITH reported AS (
    SELECT t.case_id, min(t.transferred_at) AS reported_at,
           coalesce(sum(t.amount_minor) FILTER (WHERE t.linked_case_id IS NOT NULL), 0) AS linked_minor
    FROM entry_transfers t
    GROUP BY t.case_id
), picked AS (
    SELECT c.case_id, c.reported_minor - r.linked_minor AS reported_minor, r.reported_at,
           CASE :group_by::text
               WHEN 'fraud_type' THEN c.fraud_type::text
               WHEN 'station' THEN c.station_id
               WHEN 'month' THEN to_char(
                   date_trunc('month', (r.reported_at AT TIME ZONE 'UTC') + make_interval(mins => :utc_offset_minutes::int))
                   + make_interval(months => :key_shift_months::int), 'YYYY-MM')
               ELSE 'all'
           END AS key
    FROM cases c
    JOIN reported r ON r.case_id = c.case_id
    WHERE r.reported_at >= :since AND r.reported_at < :until
      AND (:station_id::text IS NULL OR c.station_id = :station_id)
), held AS (
    SELECT o.case_id,
           coalesce(sum(o.held_minor) FILTER (WHERE o.kind = 'stop'), 0) AS stopped_minor,
           coalesce(sum(o.held_minor), 0) AS frozen_minor,
           min(o.resolved_at) FILTER (WHERE o.held_minor > 0) AS first_hold_at
    FROM freeze_orders o
    JOIN picked p ON p.case_id = o.case_id
    WHERE o.kind IN ('freeze', 'stop') AND (:bank_code::text IS NULL OR o.bank_code = :bank_code)
    GROUP BY o.case_id
), returned AS (
    SELECT p.case_id, sum(r.released_minor) AS returned_minor
    FROM freeze_orders r
    JOIN picked p ON r.kind = 'return' AND r.params ->> 'beneficiary_case' = p.case_id::text
    WHERE :bank_code::text IS NULL OR r.bank_code = :bank_code
    GROUP BY p.case_id
), exited AS (
    SELECT x.case_id, sum(x.amount_minor) AS exited_minor
    FROM trail_exits x
    JOIN picked p ON p.case_id = x.case_id
    WHERE (:bank_code::text IS NULL OR x.bank_code = :bank_code) AND x.exit_kind <> 'BACK_WITH_VICTIM'
    GROUP BY x.case_id
), per_case AS (
    SELECT p.key, p.reported_minor,
           coalesce(h.stopped_minor, 0) AS stopped_minor, coalesce(h.frozen_minor, 0) AS frozen_minor,
           coalesce(r.returned_minor, 0) AS returned_minor, coalesce(x.exited_minor, 0) AS exited_minor,
           floor((extract(epoch FROM h.first_hold_at) - extract(epoch FROM p.reported_at)) * 1000)::bigint AS ms
    FROM picked p
    LEFT JOIN held h ON h.case_id = p.case_id
    LEFT JOIN returned r ON r.case_id = p.case_id
    LEFT JOIN exited x ON x.case_id = p.case_id
), grouped AS (
    SELECT key, count(*)::int AS cases, sum(reported_minor)::bigint AS reported_minor,
           sum(stopped_minor)::bigint AS stopped_minor, sum(frozen_minor)::bigint AS frozen_minor,
           sum(returned_minor)::bigint AS returned_minor, sum(exited_minor)::bigint AS exited_minor,
           count(ms)::int AS held_cases,
           percentile_disc(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY ms) AS p
    FROM per_case
    GROUP BY key
)
SELECT key, cases, reported_minor, stopped_minor, frozen_minor, returned_minor, exited_minor, held_cases,
       coalesce(p[1], 0)::bigint AS p50_ms, coalesce(p[2], 0)::bigint AS p95_ms, coalesce(p[3], 0)::bigint AS p99_ms
FROM grouped
ORDER BY key

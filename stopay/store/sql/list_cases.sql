-- Cases newest first, optionally of one station ($1, NULL for all), after the keyset ($2, $3),
-- at most $4 rows.
SELECT c.case_id, c.entry_id, c.station_id, c.officer_id, c.report_no, c.victim_name,
       c.fraud_type, c.currency, c.reported_minor, c.created_at, c.rule, c.max_depth, c.min_amount,
       (SELECT coalesce(sum(x.amount_minor), 0)::bigint FROM trail_exits x WHERE x.case_id = c.case_id) AS exited_minor,
       COALESCE(sum(o.held_minor - o.released_minor), 0)::bigint AS held_minor,
       count(o.order_id)::int AS order_count,
       count(o.order_id) FILTER (WHERE o.status IN ('queued', 'freezing', 'pending'))::int AS open_orders
FROM cases c
LEFT JOIN freeze_orders o ON o.case_id = c.case_id
WHERE ($1::text IS NULL OR c.station_id = $1)
  AND ($2::timestamptz IS NULL OR (c.created_at, c.case_id) < ($2, $3::uuid))
GROUP BY c.case_id
ORDER BY c.created_at DESC, c.case_id DESC
LIMIT $4

-- Cases newest first, optionally of one station ($1, NULL for all), after the keyset ($2, $3),
-- at most $4 rows.
SELECT *
FROM case_summaries
WHERE ($1::text IS NULL OR station_id = $1)
  AND ($2::timestamptz IS NULL OR (created_at, case_id) < ($2, $3::uuid))
ORDER BY created_at DESC, case_id DESC
LIMIT $4

-- Cases newest first, optionally of one station ($1, NULL for all) and of the stations whose ids
-- start with one of the prefixes $5 (NULL for all; empty for none), after the keyset ($2, $3), at
-- most $4 rows.
SELECT *
FROM case_summaries
WHERE ($1::text IS NULL OR station_id = $1)
  AND ($5::text[] IS NULL OR EXISTS (SELECT 1 FROM unnest($5::text[]) AS p (prefix)
                                     WHERE starts_with(station_id, p.prefix)))
  AND ($2::timestamptz IS NULL OR (created_at, case_id) < ($2, $3::uuid))
ORDER BY created_at DESC, case_id DESC
LIMIT $4

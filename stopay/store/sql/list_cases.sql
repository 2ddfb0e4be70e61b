-- Cases newest first, at most :limit of them. :station_id only that station's (NULL: every
-- station); :station_prefixes (text[]) only the stations whose ids start with one of them (NULL: every
-- station, empty: none); :after_created_at and :after_case_id the keyset of the last case of the page
-- before (NULL: from the newest).
SELECT *
FROM case_summaries
WHERE (:station_id::text IS NULL OR station_id = :station_id)
  AND (:station_prefixes::text[] IS NULL OR EXISTS (SELECT 1 FROM unnest(:station_prefixes::text[]) AS p (prefix)
                                                   WHERE starts_with(station_id, p.prefix)))
  AND (:after_created_at::timestamptz IS NULL OR (created_at, case_id) < (:after_created_at, :after_case_id::uuid))
ORDER BY created_at DESC, case_id DESC
LIMIT :limit

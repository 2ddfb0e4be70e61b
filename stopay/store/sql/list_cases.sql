-- Cases newest first, at most :limit of them; every filter NULL is no filter, the others all hold
-- (docs/rules.md, Search). :station_id only that station's; :station_prefixes (text[]) only the
-- stations whose ids start with one of them (empty: none), the caller's scope; :report_no that report
-- number exactly; :victim_name the victims whose name starts with it; :bank_code and :account_number
-- the cases with an order of any kind, at any level, at that account (freeze_orders_by_account);
-- :created_from and :created_until the period [from, until) of created_at; :settled true only the
-- cases with no open order, false only those with one. :after_created_at and :after_case_id the
-- keyset of the last case of the page before (NULL: from the newest).
SELECT *
FROM case_summaries
WHERE (:station_id::text IS NULL OR station_id = :station_id)
  AND (:station_prefixes::text[] IS NULL OR EXISTS (SELECT 1 FROM unnest(:station_prefixes::text[]) AS p (prefix)
                                                   WHERE starts_with(station_id, p.prefix)))
  AND (:report_no::text IS NULL OR report_no = :report_no)
  AND (:victim_name::text IS NULL OR starts_with(victim_name, :victim_name))
  AND (:bank_code::text IS NULL OR case_id IN (SELECT f.case_id
                                               FROM freeze_orders f
                                               WHERE f.bank_code = :bank_code
                                                 AND f.account_number = :account_number::text))
  AND (:created_from::timestamptz IS NULL OR created_at >= :created_from)
  AND (:created_until::timestamptz IS NULL OR created_at < :created_until)
  AND (:settled::boolean IS NULL OR (open_orders = 0) = :settled)
  AND (:after_created_at::timestamptz IS NULL OR (created_at, case_id) < (:after_created_at, :after_case_id::uuid))
ORDER BY created_at DESC, case_id DESC
LIMIT :limit

-- Of the holds a committed transaction just started (:case_ids, :bank_codes, :account_numbers, in
-- step), those that are their case's first hold (the earliest stopped_at, then the account key), with
-- the seconds from the entry's commit (cases.created_at) to now, both by the database's real clock.
-- Called right after that commit, so now is when the first hold was recorded. Reads one case's rows
-- per hold, through the primary keys, without a lock.
SELECT extract(epoch FROM statement_timestamp() - c.created_at)::float8 AS seconds
FROM unnest(:case_ids::uuid[], :bank_codes::text[], :account_numbers::text[]) AS s(case_id, bank_code, account_number)
JOIN holds h ON h.case_id = s.case_id AND h.bank_code = s.bank_code AND h.account_number = s.account_number
JOIN cases c ON c.case_id = h.case_id
WHERE NOT EXISTS (
    SELECT 1 FROM holds o
    WHERE o.case_id = h.case_id
      AND (o.stopped_at, o.bank_code, o.account_number) < (h.stopped_at, h.bank_code, h.account_number)
)

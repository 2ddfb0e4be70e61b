-- Every case's knowledge row at the accounts in :accounts (jsonb array of {bank_code, number}), as
-- trail_lock.sql takes them (a top-up looks at every case short of its victim's money there).
SELECT t.case_id, t.bank_code, t.account_number, t.holder_name, t.level
FROM trail_accounts t
JOIN jsonb_to_recordset(:accounts::jsonb) AS w(bank_code text, number text)
  ON t.bank_code = w.bank_code AND t.account_number = w.number
ORDER BY t.case_id, t.bank_code, t.account_number

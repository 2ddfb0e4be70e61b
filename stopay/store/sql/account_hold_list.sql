-- Every case's hold on account :bank_code/:account_number, as its readers show them (hold_views).
SELECT * FROM hold_views WHERE bank_code = :bank_code AND account_number = :account_number
ORDER BY stopped_at, case_id

-- The holds of case :case_id, as its readers show them (hold_views).
SELECT * FROM hold_views WHERE case_id = :case_id
ORDER BY stopped_at, bank_code, account_number

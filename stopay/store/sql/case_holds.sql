-- The holds of case $1, as its readers show them (hold_views).
SELECT * FROM hold_views WHERE case_id = $1
ORDER BY stopped_at, bank_code, account_number

-- Every case's hold on account $1:$2, as its readers show them (hold_views).
SELECT * FROM hold_views WHERE bank_code = $1 AND account_number = $2
ORDER BY stopped_at, case_id

-- The open objection to the hold of case :case_id on account :bank_code/:account_number, if any
-- (the caller holds the hold's row lock, so no other can be filed meanwhile).
SELECT o.*, o.due_at <= stopay_now() AS overdue FROM objections o
WHERE o.case_id = :case_id AND o.bank_code = :bank_code AND o.account_number = :account_number
  AND o.state = 'open'

-- The victim's money traced out of the network in a case, in the order it left. :case_id the case.
SELECT txn_id, order_id, bank_code, account_number, level, exit_kind, amount_minor, exited_at
FROM trail_exits
WHERE case_id = :case_id
ORDER BY exited_at, txn_id

-- The victim's money traced out of the network in a case, in the order it left. $1 case_id.
SELECT txn_id, order_id, bank_code, account_number, level, exit_kind, amount_minor, exited_at
FROM trail_exits
WHERE case_id = $1
ORDER BY exited_at, txn_id

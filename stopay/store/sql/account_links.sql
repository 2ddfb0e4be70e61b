-- Transfers into the account :bank_code, :account_number that a later case reported again (linked
-- to the case that traces them), oldest report first.
SELECT t.case_id, c.station_id, c.created_at, t.linked_case_id, t.txn_id, t.amount_minor
FROM entry_transfers t
JOIN cases c ON c.case_id = t.case_id
WHERE t.linked_case_id IS NOT NULL AND t.payee_bank = :bank_code AND t.payee_number = :account_number
ORDER BY c.created_at, t.case_id, t.txn_id

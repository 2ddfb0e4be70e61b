-- The cases linked to case :case_id by a transfer both reported: the transfers it reported that another
-- case traces (traced_there), then the transfers it traces that other cases reported again.
SELECT t.linked_case_id AS case_id, true AS traced_there, t.txn_id, t.amount_minor, t.payer_bank,
       t.payer_number, t.payer_holder, t.payee_bank, t.payee_number, t.payee_holder,
       c.station_id, c.created_at
FROM entry_transfers t
JOIN cases c ON c.case_id = t.linked_case_id
WHERE t.case_id = :case_id AND t.linked_case_id IS NOT NULL
UNION ALL
SELECT t.case_id, false, t.txn_id, t.amount_minor, t.payer_bank, t.payer_number, t.payer_holder,
       t.payee_bank, t.payee_number, t.payee_holder, c.station_id, c.created_at
FROM entry_transfers t
JOIN cases c ON c.case_id = t.case_id
WHERE t.linked_case_id = :case_id
ORDER BY traced_there DESC, created_at, case_id, txn_id

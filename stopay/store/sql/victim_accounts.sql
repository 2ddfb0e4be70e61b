-- Where each case in :cases (uuid[]) pays its victim back: the paying account of its first transfer.
SELECT DISTINCT ON (t.case_id) t.case_id, t.payer_bank, t.payer_number, t.payer_holder
FROM entry_transfers t
WHERE t.case_id = ANY (:cases::uuid[])
ORDER BY t.case_id, t.ordinal

-- Where each case in $1 (uuid[]) pays its victim back: the paying account of its first transfer.
SELECT DISTINCT ON (t.case_id) t.case_id, t.payer_bank, t.payer_number, t.payer_holder
FROM entry_transfers t
WHERE t.case_id = ANY ($1::uuid[])
ORDER BY t.case_id, t.ordinal

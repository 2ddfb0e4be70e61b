-- The holds on account $1:$2, locked, in case_id order; the caller holds the trail rows' locks.
SELECT h.case_id, h.state, h.document
FROM holds h
WHERE h.bank_code = $1 AND h.account_number = $2
ORDER BY h.case_id
FOR UPDATE

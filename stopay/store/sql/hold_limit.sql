-- Lowers the most case :case_id may hold on account :bank_code/:account_number to :limit_minor (an
-- objection partly upheld kept that much held); a lower limit already set stands. The caller holds
-- the hold's locks (a hold transaction). Returns the limit now set.
UPDATE holds h
SET limit_minor = least(h.limit_minor, :limit_minor::bigint), updated_at = now()
WHERE h.case_id = :case_id AND h.bank_code = :bank_code AND h.account_number = :account_number
RETURNING h.limit_minor

-- The freezes of case :case_id waiting for its review of large freezes (store/migrations/0023_review.sql),
-- locked for the rest of the transaction (read before, outside one, it only names the accounts whose
-- trail rows to lock first).
SELECT o.order_id, o.kind, o.bank_code, o.account_number, o.holder_name, o.level, o.requested_minor,
       o.freeze_minor
FROM freeze_orders o
WHERE o.case_id = :case_id::uuid AND o.status = 'awaiting_review'
ORDER BY o.order_id
FOR UPDATE OF o

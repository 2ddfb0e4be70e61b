-- The orders of a case, by level then creation; a freeze order before its stop, made with it. :case_id the
-- case.
SELECT order_id, parent_order_id, kind, level, bank_code, account_number, holder_name, currency,
       requested_minor, freeze_minor, held_minor, released_minor, status, reason_code, detail, incoming, attempts,
       created_at, resolved_at, retry_of
FROM freeze_orders
WHERE case_id = :case_id
ORDER BY level, created_at, bank_code, account_number, kind = 'stop', order_id

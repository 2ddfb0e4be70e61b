-- One order (:case_id, :order_id) as the dispatcher would claim it, without claiming it.
SELECT o.case_id, o.order_id, o.parent_order_id, o.kind, o.level, o.status, o.bank_code,
       o.account_number, o.holder_name, o.currency, o.requested_minor, o.freeze_minor, o.incoming,
       o.idempotency_key, o.params, o.attempts, c.rule, c.max_depth, c.min_amount, false AS expired,
       coalesce(t.incoming, '{}'::jsonb) AS known_incoming
FROM freeze_orders o
JOIN cases c ON c.case_id = o.case_id
LEFT JOIN trail_accounts t
       ON t.case_id = o.case_id AND t.bank_code = o.bank_code AND t.account_number = o.account_number
WHERE o.case_id = :case_id AND o.order_id = :order_id

-- Every order of every case that touched an account, newest first. :bank_code and
-- :account_number the account.
SELECT o.case_id, o.order_id, o.kind, o.level, o.status, o.requested_minor, o.held_minor,
       o.released_minor, o.reason_code, o.created_at, o.resolved_at, c.station_id, c.report_no,
       c.victim_name
FROM freeze_orders o
JOIN cases c ON c.case_id = o.case_id
WHERE o.bank_code = :bank_code AND o.account_number = :account_number
ORDER BY o.created_at DESC, o.order_id

-- Every order of every case that touched an account, newest first. $1 bank_code, $2 account_number.
SELECT o.case_id, o.order_id, o.kind, o.level, o.status, o.requested_minor, o.held_minor,
       o.released_minor, o.reason_code, o.created_at, o.resolved_at, c.station_id, c.report_no,
       c.victim_name
FROM freeze_orders o
JOIN cases c ON c.case_id = o.case_id
WHERE o.bank_code = $1 AND o.account_number = $2
ORDER BY o.created_at DESC, o.order_id

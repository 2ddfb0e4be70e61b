-- Every case's hold on account $1:$2, with what each case holds there now.
SELECT h.case_id, h.bank_code, h.account_number, h.state, h.stops, h.max_stops, h.freezes, h.major,
       h.document, h.stopped_at, h.expires_at, h.warned_at, h.return_due_at, h.return_paid_at,
       h.ended_at, h.end_reason, coalesce(t.held_minor, 0) AS held_minor, t.holder_name,
       h.expires_at <= stopay_now() AS expired
FROM holds h
LEFT JOIN trail_accounts t
       ON t.case_id = h.case_id AND t.bank_code = h.bank_code AND t.account_number = h.account_number
WHERE h.bank_code = $1 AND h.account_number = $2
ORDER BY h.stopped_at, h.case_id

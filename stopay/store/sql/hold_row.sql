-- The hold of case :case_id on account :bank_code/:account_number, locked, as of the hold lifecycle's
-- clock (stopay_now()).
SELECT h.case_id, h.bank_code, h.account_number, h.state, h.stops, h.max_stops, h.freezes, h.major,
       h.document, h.stopped_at, h.expires_at, h.warned_at, h.return_due_at, h.return_paid_at,
       h.ended_at, h.end_reason, h.expires_at <= stopay_now() AS expired
FROM holds h
WHERE h.case_id = :case_id AND h.bank_code = :bank_code AND h.account_number = :account_number
FOR UPDATE

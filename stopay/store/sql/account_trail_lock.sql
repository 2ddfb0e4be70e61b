-- Locks what every case knows of account :bank_code/:account_number, in case_id order (as every
-- multi-case writer locks), for a return of the money held there. Returns each case's figures there,
-- and the hold lifecycle's clock (stopay_now()).
SELECT t.case_id, t.held_minor, t.in_flight_minor, t.releasing_minor, t.incoming, stopay_now() AS now
FROM trail_accounts t
WHERE t.bank_code = :bank_code AND t.account_number = :account_number
ORDER BY t.case_id
FOR UPDATE

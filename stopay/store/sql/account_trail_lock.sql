-- Locks what every case knows of account $1:$2, in case_id order (as every multi-case writer
-- locks), for a return of the money held there. Returns each case's figures there.
SELECT t.case_id, t.held_minor, t.in_flight_minor, t.releasing_minor, t.incoming
FROM trail_accounts t
WHERE t.bank_code = $1 AND t.account_number = $2
ORDER BY t.case_id
FOR UPDATE

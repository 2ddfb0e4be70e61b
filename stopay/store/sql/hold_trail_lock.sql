-- Locks what case :case_id knows of account :bank_code/:account_number for a step of its hold.
-- Everything that changes a hold locks this row first (as the dispatcher does when it applies an
-- answer), so hold steps, answers and the sweeper never deadlock and never see a half-written hold.
-- With the hold lifecycle's clock (stopay_now()), which the domain's rules are asked against.
SELECT t.held_minor, t.in_flight_minor, t.releasing_minor, t.left_minor, t.level, t.holder_name, t.incoming,
       stopay_now() AS now
FROM trail_accounts t
WHERE t.case_id = :case_id AND t.bank_code = :bank_code AND t.account_number = :account_number
FOR UPDATE

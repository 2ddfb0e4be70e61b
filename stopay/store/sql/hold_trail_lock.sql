-- Locks what case $1 knows of account $2:$3 for a step of its hold. Everything that changes a hold
-- locks this row first (as the dispatcher does when it applies an answer), so hold steps, answers
-- and the sweeper never deadlock and never see a half-written hold.
SELECT t.held_minor, t.in_flight_minor, t.releasing_minor, t.level, t.holder_name, t.incoming
FROM trail_accounts t
WHERE t.case_id = $1 AND t.bank_code = $2 AND t.account_number = $3
FOR UPDATE

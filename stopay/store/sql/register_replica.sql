-- Registers replica $1 as serving the bank codes $2 (text[]) until $3 seconds from now, by the
-- database clock; the dispatcher calls it at start and then as a heartbeat. Registrations that
-- lapsed more than $4 seconds ago (and at least a day ago) are forgotten. Run after
-- replicas_lock.sql, in the same transaction.
WITH pruned AS (
    DELETE FROM dispatch_replicas
    WHERE owner <> $1 AND alive_until < stopay_now() - make_interval(secs => greatest($4::float8, 86400))
)
INSERT INTO dispatch_replicas (owner, bank_codes, alive_until)
VALUES ($1, $2::text[], stopay_now() + make_interval(secs => $3::float8))
ON CONFLICT (owner) DO UPDATE
    SET bank_codes = excluded.bank_codes, alive_until = excluded.alive_until

-- Registers the replica :owner as serving the bank codes :bank_codes (text[]) until :alive_s seconds
-- from now, by the database clock; the dispatcher calls it at start and then as a heartbeat.
-- Registrations that lapsed more than :keep_s seconds ago (and at least a day ago) are forgotten.
-- Run after replicas_lock.sql, in the same transaction.
WITH pruned AS (
    DELETE FROM dispatch_replicas
    WHERE owner <> :owner AND alive_until < stopay_now() - make_interval(secs => greatest(:keep_s::float8, 86400))
)
INSERT INTO dispatch_replicas (owner, bank_codes, alive_until)
VALUES (:owner, :bank_codes::text[], stopay_now() + make_interval(secs => :alive_s::float8))
ON CONFLICT (owner) DO UPDATE
    SET bank_codes = excluded.bank_codes, alive_until = excluded.alive_until

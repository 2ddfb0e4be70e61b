-- Gives back the session lock of migration_lock.sql. :key the lock's key.
SELECT pg_advisory_unlock(:key)

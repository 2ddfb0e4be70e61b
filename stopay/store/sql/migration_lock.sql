-- Takes the session lock that serializes schema changes (migrations, grants) across replicas,
-- waiting for it. :key the lock's key (store/migrate.py LOCK_KEY).
SELECT pg_advisory_lock(:key)

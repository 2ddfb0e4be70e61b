-- The migrations applied so far, with the checksum each had. No parameters.
SELECT version, checksum FROM stopay_migrations ORDER BY version

-- Whether the migrations' own bookkeeping table exists yet (NULL: not). No parameters.
SELECT to_regclass('stopay_migrations')

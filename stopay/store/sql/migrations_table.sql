-- The migrations' own bookkeeping: one row per migration applied, with the SHA-256 of its file.
-- Created by store/migrate.py before the first migration. No parameters.
CREATE TABLE stopay_migrations (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)

-- The ceiling server's one table: what a unary handler with one durable INSERT writes.
CREATE TABLE IF NOT EXISTS ceiling_entries (
    entry_id    text PRIMARY KEY,
    body        bytea NOT NULL,
    accepted_at timestamptz NOT NULL DEFAULT now()
)

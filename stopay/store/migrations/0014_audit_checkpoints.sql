-- stopay schema, version 13: signed checkpoints of the audit chains' heads.
--
-- Each case's events form a hash chain (0006_audit_chain.sql). Someone who can write the database
-- as its owner (or a superuser) could still edit an event and recompute every later hash, so the
-- chain verifies again. A checkpoint closes that gap: it records every chain's head (case_id, the
-- last event's seq, the number of events and the last hash) at one moment, with their root digest,
-- signed with an Ed25519 key kept outside the database (stopay/security/checkpoints.py defines the
-- signed text). `stopay audit verify --public-key FILE` checks each checkpoint's signature and that
-- the event each checkpointed head names still has that hash when the chain is recomputed; a
-- re-chained history no longer matches. Without the private key nobody can write a checkpoint
-- that verifies.
--
-- Written by `stopay audit checkpoint` and by `serve --checkpoint-key` (every replica may: two
-- checkpoints of one moment are harmless). Append-only: never updated, deleted or truncated. A
-- small table, not distributed by case: under Citus it stays on the coordinator.
CREATE TABLE audit_checkpoints (
    checkpoint_id   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The database time of the snapshot the heads were read in (part of the signed text).
    taken_at        timestamptz NOT NULL,
    -- SHA-256 (hex) of the raw Ed25519 public key that signed it.
    key_fingerprint text        NOT NULL CHECK (key_fingerprint ~ '^[0-9a-f]{64}$'),
    -- stopay/store/audit.py root_digest over the heads' lines (part of the signed text).
    root_hash       text        NOT NULL CHECK (root_hash ~ '^[0-9a-f]{64}$'),
    -- [[case_id, seq, events, hash hex], ...] by case_id: every chain with at least one event.
    heads           jsonb       NOT NULL CHECK (jsonb_typeof(heads) = 'array'),
    signature       bytea       NOT NULL CHECK (octet_length(signature) = 64),
    recorded_at     timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION audit_checkpoints_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_checkpoints is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_checkpoints_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_checkpoints_append_only();

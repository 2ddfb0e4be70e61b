-- Records a signed checkpoint of the audit chains' heads (store/migrations/0014_audit_checkpoints.sql).
-- :taken_at the snapshot's database time, :key_fingerprint the signing key's, :root_hash the heads'
-- root digest, :heads (jsonb) [[case_id, seq, events, hash hex], ...], :signature the Ed25519 signature.
INSERT INTO audit_checkpoints (taken_at, key_fingerprint, root_hash, heads, signature)
VALUES (:taken_at, :key_fingerprint, :root_hash, :heads::jsonb, :signature)
RETURNING checkpoint_id

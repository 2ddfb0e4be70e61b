-- Records a signed checkpoint of the audit chains' heads (store/migrations/0014_audit_checkpoints.sql).
-- $1 taken_at, $2 key_fingerprint, $3 root_hash, $4 heads (jsonb), $5 signature.
INSERT INTO audit_checkpoints (taken_at, key_fingerprint, root_hash, heads, signature)
VALUES ($1, $2, $3, $4::jsonb, $5)
RETURNING checkpoint_id

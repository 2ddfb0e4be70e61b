-- Every signed checkpoint of the audit chains' heads, oldest first; heads as jsonb text.
SELECT checkpoint_id, taken_at, key_fingerprint, root_hash, heads::text AS heads, signature
FROM audit_checkpoints
ORDER BY checkpoint_id

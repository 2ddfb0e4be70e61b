-- Records the step $1 (request_id) asked of a hold: $2 the action, $3 the SHA-256 of what was asked.
-- Returns fresh = true the first time; after that the digest and result recorded, so a resend with the same
-- content is recognised and one with other content refused.
WITH fresh AS (
    INSERT INTO hold_requests (request_id, action, payload_sha256) VALUES ($1, $2, $3)
    ON CONFLICT (request_id) DO NOTHING
    RETURNING payload_sha256, result
)
SELECT true AS fresh, payload_sha256, result FROM fresh
UNION ALL
SELECT false, payload_sha256, result FROM hold_requests
WHERE request_id = $1 AND NOT EXISTS (SELECT 1 FROM fresh)

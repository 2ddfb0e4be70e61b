-- Records the step :request_id asked of a hold: :action, and :digest, the SHA-256 of what was asked.
-- Returns fresh = true the first time; after that the digest and result recorded, so a resend with the same
-- content is recognised and one with other content refused.
WITH fresh AS (
    INSERT INTO hold_requests (request_id, action, payload_sha256) VALUES (:request_id, :action, :digest)
    ON CONFLICT (request_id) DO NOTHING
    RETURNING payload_sha256, result
)
SELECT true AS fresh, payload_sha256, result FROM fresh
UNION ALL
SELECT false, payload_sha256, result FROM hold_requests
WHERE request_id = :request_id AND NOT EXISTS (SELECT 1 FROM fresh)

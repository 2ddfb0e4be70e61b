-- Keeps what the request :request_id came to (:result, jsonb), for an answer to the same request sent again.
UPDATE hold_requests SET result = :result WHERE request_id = :request_id

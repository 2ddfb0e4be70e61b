-- Keeps what the request $1 came to ($2, jsonb), for an answer to the same request sent again.
UPDATE hold_requests SET result = $2 WHERE request_id = $1

-- Decides the review of case :case_id (locked by review_lock.sql, still awaiting): :state 'approved'
-- or 'declined', by :decided_by with :reasons, under the request id :request_id.
UPDATE case_reviews
SET state = :state, decided_by = :decided_by, decided_at = stopay_now(), reasons = :reasons,
    request_id = :request_id
WHERE case_id = :case_id::uuid AND state = 'awaiting'

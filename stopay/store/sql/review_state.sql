-- The state of case :case_id's review of large freezes (store/migrations/0023_review.sql), shared
-- until commit; no row: none was asked for. Read after the case's chain head is locked, so a
-- decision or a review asked for in between is seen.
SELECT r.state
FROM case_reviews r
WHERE r.case_id = :case_id::uuid
FOR SHARE OF r

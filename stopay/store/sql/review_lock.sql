-- The review of case :case_id, locked (after the case's chain head, as every writer of the case's
-- orders takes it); no row: its freezes never passed the thresholds, or there is no such case.
SELECT r.case_id, r.state, r.decided_by, r.request_id
FROM case_reviews r
WHERE r.case_id = :case_id::uuid
FOR UPDATE OF r

-- Reviews of large freezes (store/migrations/0023_review.sql), oldest asked first: of case :case_id
-- (NULL: every case), only those still awaiting a decision when :awaiting_only; each with its case's
-- report number and station, and the freezes waiting now with their money. At most :limit.
SELECT r.case_id, c.report_no, c.station_id, r.state, r.requested_at, r.accounts, r.amount_minor,
       r.max_accounts, r.max_amount_minor, r.decided_by, r.decided_at, r.reasons, r.request_id,
       w.waiting_orders, w.waiting_minor
FROM case_reviews r
JOIN cases c ON c.case_id = r.case_id
CROSS JOIN LATERAL (
    SELECT count(*)::int AS waiting_orders, coalesce(sum(o.freeze_minor), 0)::bigint AS waiting_minor
    FROM freeze_orders o
    WHERE o.case_id = r.case_id AND o.status = 'awaiting_review'
) w
WHERE (:case_id::uuid IS NULL OR r.case_id = :case_id::uuid)
  AND (NOT :awaiting_only::boolean OR r.state = 'awaiting')
ORDER BY r.requested_at, r.case_id
LIMIT :limit

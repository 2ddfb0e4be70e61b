-- Objections, newest first, up to :limit: of case :case_id (null: every case), only the open ones when
-- :open_only, only the open ones past their deadline (by stopay_now()) when :overdue_only.
SELECT o.*, o.state = 'open' AND o.due_at <= stopay_now() AS overdue FROM objections o
WHERE (:case_id::uuid IS NULL OR o.case_id = :case_id::uuid)
  AND (NOT :open_only::bool OR o.state = 'open')
  AND (NOT :overdue_only::bool OR (o.state = 'open' AND o.due_at <= stopay_now()))
ORDER BY o.filed_at DESC, o.objection_id
LIMIT :limit

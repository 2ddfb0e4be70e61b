-- Approves $1 (locked, still requested): $2 who approves, $3 why, $4 the approval's own request_id.
-- The hold_approvals_guard trigger refuses any other move, and the table's check the identity that asked.
UPDATE hold_approvals
SET status = 'approved', approved_by = $2, approved_reason = $3, approve_request_id = $4, approved_at = stopay_now()
WHERE approval_id = $1 AND status = 'requested'
RETURNING approved_at

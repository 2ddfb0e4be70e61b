-- Approves :approval_id (locked, still requested): :approver who approves, :reason why, :request_id the
-- approval's own request id. The hold_approvals_guard trigger refuses any other move, and the table's
-- check the identity that asked.
UPDATE hold_approvals
SET status = 'approved', approved_by = :approver, approved_reason = :reason, approve_request_id = :request_id,
    approved_at = stopay_now()
WHERE approval_id = :approval_id AND status = 'requested'
RETURNING approved_at

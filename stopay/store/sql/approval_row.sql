-- The approval :approval_id, locked: an approval takes this lock before those of the trail rows,
-- holds and chain heads its step locks (store/holds.py), and nothing else locks an approval.
SELECT approval_id, action, case_id, bank_code, account_number, basis, document, major, reason, request_id,
       requested_by, status, approved_by
FROM hold_approvals
WHERE approval_id = :approval_id
FOR UPDATE

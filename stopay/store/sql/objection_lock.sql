-- Locks the objection :objection_id for the rest of the transaction; the caller has locked its hold's
-- trail row, hold row and chain head first (the order every writer keeps). Returns it.
SELECT o.*, o.state = 'open' AND o.due_at <= stopay_now() AS overdue FROM objections o
WHERE o.objection_id = :objection_id
FOR UPDATE

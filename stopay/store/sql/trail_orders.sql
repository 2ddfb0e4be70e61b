-- Of the orders in $1 (jsonb array of {case_id, order_id}), those that owner $2 still leases with a
-- bank request out, as they stand in the database, locked for the rest of the transaction.
SELECT o.case_id, o.order_id, o.kind, o.status, o.requested_minor, o.freeze_minor
FROM freeze_orders o
JOIN jsonb_to_recordset($1::jsonb) AS w(case_id uuid, order_id uuid)
  ON o.case_id = w.case_id AND o.order_id = w.order_id
WHERE o.status IN ('queued', 'freezing') AND o.lease_owner = $2
ORDER BY o.case_id, o.order_id
FOR UPDATE OF o

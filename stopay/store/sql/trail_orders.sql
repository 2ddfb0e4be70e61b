-- Of the orders in $1 (jsonb array of {case_id, order_id, attempts}), those that owner $2 still
-- leases under the very claim the answers came from (same attempts count), as they stand in the
-- database, locked for the rest of the transaction. A late answer to an earlier claim finds nothing.
-- With $2 NULL (a bank calling back) any order still waiting for its freeze answer is found,
-- whoever leases it: that claim's own answer will then find the order settled.
SELECT o.case_id, o.order_id, o.kind, o.status, o.requested_minor, o.freeze_minor
FROM freeze_orders o
JOIN jsonb_to_recordset($1::jsonb) AS w(case_id uuid, order_id uuid, attempts int)
  ON o.case_id = w.case_id AND o.order_id = w.order_id
WHERE CASE WHEN $2::text IS NULL THEN o.status IN ('freezing', 'pending')
           ELSE o.status IN ('queued', 'freezing', 'pending') AND o.lease_owner = $2
                AND o.attempts = w.attempts END
ORDER BY o.case_id, o.order_id
FOR UPDATE OF o

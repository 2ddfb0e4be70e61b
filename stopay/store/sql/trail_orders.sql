-- Of the orders in :claims (jsonb array of {case_id, order_id, attempts}), those open that :owner
-- still leases under the very claim the answers came from (same attempts count), as they stand in the
-- database, locked for the rest of the transaction. A late answer to an earlier claim finds nothing.
-- With :owner NULL (a bank calling back) any order still waiting for its freeze answer (a stop from
-- its start) is found,
-- whoever leases it: that claim's own answer will then find the order settled.
SELECT o.case_id, o.order_id, o.kind, o.status, o.requested_minor, o.freeze_minor
FROM freeze_orders o
JOIN jsonb_to_recordset(:claims::jsonb) AS w(case_id uuid, order_id uuid, attempts int)
  ON o.case_id = w.case_id AND o.order_id = w.order_id
WHERE CASE WHEN :owner::text IS NULL THEN o.status IN ('freezing', 'pending') OR (o.kind = 'stop' AND o.status = 'queued')
           ELSE freeze_order_open(o.status) AND o.lease_owner = :owner
                AND o.attempts = w.attempts END
ORDER BY o.case_id, o.order_id
FOR UPDATE OF o

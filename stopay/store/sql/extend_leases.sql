-- Keeps owner $1's leases on the orders in $3 (jsonb array of {case_id, order_id}: its deliveries
-- in flight) alive for $2 more seconds, by the database clock. An owner that dies stops extending,
-- and so does one that could not record an answer: those orders fall due again.
UPDATE freeze_orders o
SET lease_until = now() + make_interval(secs => $2::float8)
FROM jsonb_to_recordset($3::jsonb) AS f(case_id uuid, order_id uuid)
WHERE o.case_id = f.case_id AND o.order_id = f.order_id
  AND o.lease_owner = $1 AND o.status IN ('queued', 'freezing')

-- Keeps the leases of owner $1 alive while its deliveries are in flight: $2 more seconds from now,
-- by the database clock. An owner that dies stops extending, and its orders fall due again.
UPDATE freeze_orders
SET lease_until = now() + make_interval(secs => $2::float8)
WHERE lease_owner = $1 AND status IN ('queued', 'freezing')

-- The step recorded under :request_id: read again, in a statement of its own, when hold_request.sql
-- waited on a concurrent insert of the same id (its own snapshot could not see the winner's row).
SELECT false AS fresh, payload_sha256, result FROM hold_requests WHERE request_id = :request_id

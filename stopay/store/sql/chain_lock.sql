-- Locks the chain heads (store/migrations/0006_audit_chain.sql) of the cases in :case_ids (uuid[]) for the
-- rest of the transaction, creating missing ones, in case_id order: a transaction that writes events
-- of several cases takes this step first, so writers never deadlock on each other's heads. The
-- function is volatile, so it is called row by row after the sort.
SELECT case_chain_lock(c.case_id)
FROM (SELECT DISTINCT unnest(:case_ids::uuid[]) AS case_id) AS c
ORDER BY c.case_id

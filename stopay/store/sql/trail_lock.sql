-- Opens what stopay knows of the accounts in :accounts (jsonb array of {case_id, bank_code,
-- account_number, holder_name, level}) for update, creating rows not seen before. Rows are locked
-- in key order, so concurrent replicas never deadlock; the caller's transaction holds the locks.
WITH wanted AS (
    SELECT DISTINCT ON (case_id, bank_code, account_number) *
    FROM jsonb_to_recordset(:accounts::jsonb) AS w(case_id uuid, bank_code text, account_number text,
        holder_name text, level int)
    ORDER BY case_id, bank_code, account_number, level
), created AS (
    INSERT INTO trail_accounts (case_id, bank_code, account_number, holder_name, level)
    SELECT case_id, bank_code, account_number, holder_name, level FROM wanted
    ON CONFLICT DO NOTHING
)
SELECT 1

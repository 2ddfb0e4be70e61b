-- Files the objection :objection_id of the holder :holder_name to the hold of case :case_id on account
-- :bank_code/:account_number, whose trail row, hold row and chain head the caller has locked
-- (hold_trail_lock.sql, hold_row.sql, chain_lock.sql): :via ('bank' or 'station'), :taken_by (the
-- bank code or the officer), :grounds, :documents (a JSON array of strings), :request_id (claimed in
-- hold_requests already). It is due :due_hours after now (by stopay_now()). Appends
-- 'objection.filed' (:actor). Returns the objection (objection_views' columns).
WITH filed AS (
    INSERT INTO objections (objection_id, case_id, bank_code, account_number, holder_name, via, taken_by,
                            grounds, documents, request_id, filed_at, due_at)
    VALUES (:objection_id, :case_id, :bank_code, :account_number, :holder_name, :via, :taken_by, :grounds,
            :documents::jsonb, :request_id, stopay_now(), stopay_now() + make_interval(hours => :due_hours::int))
    RETURNING *
), events AS (
    INSERT INTO case_events (case_id, actor, kind, detail)
    SELECT f.case_id, :actor, 'objection.filed',
           jsonb_build_object('objection_id', f.objection_id, 'bank_code', f.bank_code, 'via', f.via,
                              'taken_by', f.taken_by, 'grounds', f.grounds, 'documents', f.documents,
                              'due_at', f.due_at, 'request_id', f.request_id)
    FROM filed f
    RETURNING seq
)
SELECT f.*, f.due_at <= stopay_now() AS overdue, (SELECT count(*) FROM events) AS events FROM filed f

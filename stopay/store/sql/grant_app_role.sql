-- The privileges of the application role :role (the role `serve --dsn` connects as), exactly: every
-- privilege it had in the schema is taken away first (store/migrations/0015_app_role.sql). Every
-- table and view of the schema is named here, or stopay_grant_app refuses: a migration that adds
-- one adds its line. Run by the owner, after the migrations (`stopay db grant`,
-- `serve --migrate-dsn`).
--
-- Evidence (cases, entry_transfers, bank_answers, case_events, audit_checkpoints) is INSERT and
-- SELECT only; other tables get UPDATE only on the columns the service changes, and DELETE only
-- where rows are forgotten by design (a withdrawn exit, a replica lapsed long ago). Nothing gets
-- TRUNCATE, REFERENCES or TRIGGER, and only the owner may ALTER or DROP.
SELECT stopay_grant_app(:role::name, jsonb_object_agg(relation, privileges))
FROM (VALUES
    ('stopay_migrations', 'SELECT'),
    ('cases', 'SELECT, INSERT'),
    ('entry_transfers', 'SELECT, INSERT'),
    ('bank_answers', 'SELECT, INSERT'),
    ('case_events', 'SELECT, INSERT'),
    ('audit_checkpoints', 'SELECT, INSERT'),
    ('case_chain_heads', 'SELECT'),
    ('case_chain_lock(uuid)', 'EXECUTE'),
    -- submit_entry.sql reads a race's winner with ON CONFLICT DO UPDATE SET case_id = case_id,
    -- which needs UPDATE on that column; the trigger refuses any real change.
    ('transfer_owners', 'SELECT, INSERT, UPDATE (case_id)'),
    ('freeze_order_transitions', 'SELECT'),
    ('freeze_orders', 'SELECT, INSERT, UPDATE (status, freeze_minor, held_minor, released_minor, reason_code,'
                      ' detail, resolved_at, next_attempt_at, lease_owner, lease_until, attempts, reviewed_at)'),
    ('trail_accounts', 'SELECT, INSERT, UPDATE (incoming, sent, rev, left_minor, held_minor, in_flight_minor,'
                       ' releasing_minor, level, gaps, seen_at, seen_seq, asked_releases, updated_at)'),
    ('trail_exits', 'SELECT, INSERT, UPDATE (amount_minor, order_id, level, recorded_at), DELETE'),
    ('hold_transitions', 'SELECT'),
    ('holds', 'SELECT, INSERT, UPDATE (state, stops, freezes, major, document, expires_at, warned_at,'
              ' return_due_at, return_paid_at, ended_at, end_reason, updated_at)'),
    ('hold_requests', 'SELECT, INSERT, UPDATE (result)'),
    -- hold_approvals_guard refuses every move but requested -> approved, and any DELETE.
    ('hold_approvals', 'SELECT, INSERT, UPDATE (status, approved_by, approved_reason, approve_request_id,'
                       ' approved_at)'),
    -- objections_guard refuses every move but open -> decided, and any DELETE.
    ('objections', 'SELECT, INSERT, UPDATE (warned_at, escalated_at, state, decision, reasons, decided_by,'
                   ' decided_at)'),
    -- case_reviews_guard refuses every move but awaiting -> approved | declined, and any DELETE.
    ('case_reviews', 'SELECT, INSERT, UPDATE (state, decided_by, decided_at, reasons, request_id)'),
    ('dispatch_replicas', 'SELECT, INSERT, UPDATE (bank_codes, alive_until), DELETE'),
    -- Drills and tests move the clock as the owner; the service only reads it.
    ('stopay_clock', 'SELECT'),
    ('case_summaries', 'SELECT'),
    ('hold_views', 'SELECT')
) AS g(relation, privileges)

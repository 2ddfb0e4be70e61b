-- Applies a batch of bank answers in one statement: moves the answered orders on (:orders), creates
-- the orders that follow the money on, stop it there or give excess back (:created), stores what is now known of
-- each account (:accounts), records, corrects or (amount 0) withdraws exits (:exits), keeps every
-- bank answer, statements included, as evidence (:answers) and logs events (:events). :actor is the
-- actor. :holds starts holds ({case_id, bank_code, account_number, op: 'stop'}: an emergency stop of
-- :stop_hours hours, at most :max_stops stops) or ends returning ones ({..., op: 'returned'}).
-- :reviews asks for cases' reviews of large freezes (store/migrations/0023_review.sql), once each. An
-- order waiting for review ('awaiting_review', created so or moved there) is parked at 'infinity';
-- one leaving it (its review decided) records when (reviewed_at) and is due at once. Each
-- jsonb array's rows are the row class of the same name in store/trail.py. The caller holds the
-- locks taken by trail_rows.sql and trail_orders.sql, so every order in :orders is still this
-- owner's and in the state it expects.
WITH answered AS (
    UPDATE freeze_orders o
    SET status = i.status,
        freeze_minor = coalesce(o.freeze_minor, i.freeze_minor),
        held_minor = i.held_minor,
        released_minor = i.released_minor,
        reason_code = i.reason_code,
        detail = i.detail,
        resolved_at = CASE WHEN freeze_order_unresolved(i.status) THEN NULL ELSE now() END,
        next_attempt_at = CASE WHEN i.status = 'awaiting_review' THEN 'infinity'
                               ELSE stopay_now() + make_interval(secs => coalesce(i.recheck_s, 0)) END,
        reviewed_at = CASE WHEN o.status = 'awaiting_review' THEN stopay_now() ELSE o.reviewed_at END,
        lease_owner = NULL,
        lease_until = NULL
    FROM jsonb_to_recordset(:orders::jsonb) AS i(case_id uuid, order_id uuid, status text,
        freeze_minor bigint, held_minor bigint, released_minor bigint, reason_code text, detail text,
        recheck_s float8)
    WHERE o.case_id = i.case_id AND o.order_id = i.order_id
    RETURNING o.order_id
), created AS (
    INSERT INTO freeze_orders (case_id, order_id, parent_order_id, kind, level, bank_code,
                               account_number, holder_name, currency, requested_minor, incoming,
                               idempotency_key, freeze_minor, status, resolved_at, next_attempt_at)
    SELECT n.case_id, n.order_id, n.parent_order_id, n.kind, n.level, n.bank_code, n.account_number,
           n.holder_name, n.currency, n.requested_minor, n.incoming,
           coalesce(n.idempotency_key, n.case_id::text || ':' || n.order_id::text), n.freeze_minor,
           n.status, CASE WHEN freeze_order_unresolved(n.status) THEN NULL ELSE now() END,
           CASE WHEN n.status = 'awaiting_review' THEN 'infinity' ELSE stopay_now() END
    FROM jsonb_to_recordset(:created::jsonb) AS n(case_id uuid, order_id uuid, parent_order_id uuid,
        kind text, level int, bank_code text, account_number text, holder_name text, currency text,
        requested_minor bigint, incoming jsonb, freeze_minor bigint, idempotency_key text, status text)
    ON CONFLICT (case_id, order_id) DO NOTHING
    RETURNING order_id
), known AS (
    -- Of incoming and sent, only what changed: the keys gone are taken out, the keys new or changed
    -- put in (unless whole: the maps as they are). Unchanged, the stored value is kept as it is.
    UPDATE trail_accounts t
    SET incoming = CASE WHEN a.whole THEN a.incoming
                        WHEN a.incoming = '{}' AND a.incoming_gone = '{}' THEN t.incoming
                        ELSE (t.incoming - a.incoming_gone) || a.incoming END,
        sent = CASE WHEN a.whole THEN a.sent
                    WHEN a.sent = '{}' AND a.sent_gone = '{}' THEN t.sent
                    ELSE (t.sent - a.sent_gone) || a.sent END,
        rev = a.rev, left_minor = a.left_minor,
        held_minor = a.held_minor, in_flight_minor = a.in_flight_minor,
        releasing_minor = a.releasing_minor, level = least(t.level, a.level),
        gaps = coalesce(a.gaps, t.gaps), seen_at = a.seen_at, seen_seq = a.seen_seq,
        asked_releases = a.asked_releases, updated_at = now()
    FROM jsonb_to_recordset(:accounts::jsonb) AS a(case_id uuid, bank_code text, account_number text,
        incoming jsonb, sent jsonb, rev int, left_minor bigint, held_minor bigint,
        in_flight_minor bigint, releasing_minor bigint, level int, gaps jsonb, seen_at timestamptz,
        seen_seq bigint, asked_releases int, incoming_gone text[], sent_gone text[], whole boolean)
    WHERE t.case_id = a.case_id AND t.bank_code = a.bank_code AND t.account_number = a.account_number
    RETURNING t.account_number
), exits AS (
    INSERT INTO trail_exits (case_id, txn_id, order_id, bank_code, account_number, level, exit_kind,
                             amount_minor, exited_at)
    SELECT x.case_id, x.txn_id, x.order_id, x.bank_code, x.account_number, x.level, x.exit_kind,
           x.amount_minor, x.exited_at
    FROM jsonb_to_recordset(:exits::jsonb) AS x(case_id uuid, txn_id text, order_id uuid, bank_code text,
        account_number text, level int, exit_kind text, amount_minor bigint, exited_at timestamptz)
    WHERE x.amount_minor > 0
    ON CONFLICT (case_id, bank_code, account_number, txn_id) DO UPDATE
        SET amount_minor = excluded.amount_minor, order_id = excluded.order_id,
            level = least(trail_exits.level, excluded.level), recorded_at = now()
    RETURNING txn_id
), withdrawn AS (
    DELETE FROM trail_exits t
    USING jsonb_to_recordset(:exits::jsonb) AS x(case_id uuid, txn_id text, order_id uuid, bank_code text,
        account_number text, level int, exit_kind text, amount_minor bigint, exited_at timestamptz)
    WHERE x.amount_minor = 0 AND t.case_id = x.case_id AND t.bank_code = x.bank_code
      AND t.account_number = x.account_number AND t.txn_id = x.txn_id
    RETURNING t.txn_id
), answers AS (
    INSERT INTO bank_answers (case_id, order_id, status_code, held_minor, balance_minor,
                              reason_code, bank_reference, statement)
    SELECT b.case_id, b.order_id, b.status_code, b.held_minor, b.balance_minor, b.reason_code,
           b.bank_reference, b.statement
    FROM jsonb_to_recordset(:answers::jsonb) AS b(case_id uuid, order_id uuid, status_code text,
        held_minor bigint, balance_minor bigint, reason_code text, bank_reference text, statement jsonb)
    RETURNING order_id
), events AS (
    INSERT INTO case_events (case_id, actor, kind, order_id, detail)
    SELECT e.case_id, :actor, e.kind, e.order_id, e.detail
    FROM jsonb_to_recordset(:events::jsonb) AS e(case_id uuid, kind text, order_id uuid, detail jsonb)
    RETURNING seq
), stopped AS (
    INSERT INTO holds (case_id, bank_code, account_number, max_stops, expires_at)
    SELECT s.case_id, s.bank_code, s.account_number, :max_stops, stopay_now() + make_interval(hours => :stop_hours)
    FROM jsonb_to_recordset(:holds::jsonb) AS s(case_id uuid, bank_code text, account_number text, op text)
    WHERE s.op = 'stop'
    ON CONFLICT DO NOTHING
    RETURNING case_id
), returned AS (
    UPDATE holds h SET state = 'returned', ended_at = stopay_now(), end_reason = 'returned', updated_at = now()
    FROM jsonb_to_recordset(:holds::jsonb) AS r(case_id uuid, bank_code text, account_number text, op text)
    WHERE r.op = 'returned' AND h.case_id = r.case_id AND h.bank_code = r.bank_code
      AND h.account_number = r.account_number AND h.state = 'returning'
    RETURNING h.case_id
), reviews AS (
    INSERT INTO case_reviews (case_id, accounts, amount_minor, max_accounts, max_amount_minor)
    SELECT v.case_id, v.accounts, v.amount_minor, v.max_accounts, v.max_amount_minor
    FROM jsonb_to_recordset(:reviews::jsonb) AS v(case_id uuid, accounts int, amount_minor bigint,
        max_accounts int, max_amount_minor bigint)
    ON CONFLICT (case_id) DO NOTHING
    RETURNING case_id
)
SELECT (SELECT count(*) FROM answered) AS answered, (SELECT count(*) FROM created) AS created

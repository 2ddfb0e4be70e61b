-- One entry in one statement: the case, its transfers, one level-1 freeze order per receiving
-- account with its stop (a stop order that asks at once to freeze what the freeze order follows in,
-- counted in flight on the account's trail row: stop first, docs/tracing.md) and the events, or nothing at all when the case (derived from entry_id) exists already.
-- A transfer another case reported first (same payer, payee and txn_id: transfer_owners) is
-- recorded and linked to that case, and no order follows it here: the money is traced once; but
-- a report that disagrees with the first on the amount, the payee's name or the time (by more
-- than :same_transfer_window_s seconds) is traced here too. The unique key decides a race between
-- two stations; DO UPDATE (to itself) returns the owner even when it committed after this
-- statement began.
-- The case's columns are named as in the cases table; :transfers and :orders are jsonb arrays of
-- store/entries.TransferRow and store/entries.OrderRow; :actor writes the events; :rule,
-- :max_depth and :min_amount are the tracing policy the case keeps for its whole life.
-- :confirmation (jsonb: method, reference, confirmed_at, shown_sha256; domain Confirmation.record)
-- is how the victim confirmed the transfers: case.accepted records it in the case's hash chain.
-- NULL (an entry made in code without one) leaves the key out.
WITH new_case AS (
    INSERT INTO cases (case_id, entry_id, payload_sha256, station_id, officer_id, report_no,
                       victim_name, victim_id_number, victim_phone, fraud_type, narrative,
                       currency, reported_minor, rule, max_depth, min_amount)
    VALUES (:case_id, :entry_id, :payload_sha256, :station_id, :officer_id, :report_no, :victim_name, :victim_id_number, :victim_phone, :fraud_type, :narrative, :currency, :reported_minor, :rule, :max_depth, :min_amount)
    ON CONFLICT (case_id) DO NOTHING
    RETURNING case_id
), given AS (
    SELECT t.*
    FROM new_case nc,
         jsonb_to_recordset(:transfers::jsonb) AS t(ordinal int, txn_id text, payer_bank text,
             payer_number text, payer_holder text, payee_bank text, payee_number text,
             payee_holder text, amount_minor bigint, transferred_at timestamptz, channel text)
), owners AS (
    -- In key order, so that two entries sharing transfers wait for each other, never deadlock.
    INSERT INTO transfer_owners AS w (payer_bank, payer_number, payee_bank, payee_number, txn_id,
                                      case_id, station_id, amount_minor, payee_holder, transferred_at)
    SELECT g.payer_bank, g.payer_number, g.payee_bank, g.payee_number, g.txn_id, :case_id, :station_id, g.amount_minor,
           g.payee_holder, g.transferred_at
    FROM given g
    ORDER BY g.payer_bank, g.payer_number, g.payee_bank, g.payee_number, g.txn_id
    ON CONFLICT (payer_bank, payer_number, payee_bank, payee_number, txn_id)
        DO UPDATE SET case_id = w.case_id
    RETURNING w.*
), transfers AS (
    INSERT INTO entry_transfers (case_id, ordinal, txn_id, payer_bank, payer_number, payer_holder,
                                 payee_bank, payee_number, payee_holder, amount_minor, currency,
                                 transferred_at, channel, linked_case_id)
    SELECT :case_id, g.ordinal, g.txn_id, g.payer_bank, g.payer_number, g.payer_holder,
           g.payee_bank, g.payee_number, g.payee_holder, g.amount_minor, :currency, g.transferred_at,
           g.channel,
           -- Linked when the first report agrees on what the bank checks (an owner without the
           -- figures, which migration 0012 filled for every earlier one, is trusted as before).
           CASE WHEN w.case_id <> :case_id AND (w.amount_minor IS NULL
                     OR (w.amount_minor = g.amount_minor AND w.payee_holder = g.payee_holder
                         AND w.transferred_at BETWEEN g.transferred_at - make_interval(secs => :same_transfer_window_s::float8)
                                                  AND g.transferred_at + make_interval(secs => :same_transfer_window_s::float8)))
                THEN w.case_id END
    FROM given g
    JOIN owners w USING (payer_bank, payer_number, payee_bank, payee_number, txn_id)
    RETURNING *
), linked AS (
    SELECT t.*, w.station_id AS linked_station_id, w.created_at AS linked_created_at
    FROM transfers t
    JOIN owners w USING (payer_bank, payer_number, payee_bank, payee_number, txn_id)
    WHERE t.linked_case_id IS NOT NULL
), planned AS (
    SELECT * FROM jsonb_to_recordset(:orders::jsonb) AS o(order_id uuid, level int, bank_code text,
        account_number text, holder_name text, requested_minor bigint, incoming jsonb,
        stop_order_id uuid)
), orders AS (
    INSERT INTO freeze_orders (case_id, order_id, level, bank_code, account_number, holder_name,
                               currency, requested_minor, incoming, idempotency_key)
    SELECT nc.case_id, o.order_id, o.level, o.bank_code, o.account_number, o.holder_name, :currency,
           own.requested_minor, own.incoming, nc.case_id::text || ':' || o.order_id::text
    FROM new_case nc, planned o
    CROSS JOIN LATERAL (
        -- Only the transfers this case traces.
        SELECT sum((i ->> 'amount_minor')::bigint) AS requested_minor, jsonb_agg(i ORDER BY n) AS incoming
        FROM jsonb_array_elements(o.incoming) WITH ORDINALITY AS e(i, n)
        JOIN transfers t ON t.linked_case_id IS NULL AND t.payer_bank = i ->> 'payer_bank'
            AND t.payer_number = i ->> 'payer_number' AND t.payee_bank = o.bank_code
            AND t.payee_number = o.account_number AND t.txn_id = i ->> 'txn_id'
    ) own
    WHERE own.requested_minor IS NOT NULL
    RETURNING case_id, order_id, level, bank_code, account_number, holder_name, requested_minor,
              incoming, idempotency_key
), stops AS (
    INSERT INTO freeze_orders (case_id, order_id, parent_order_id, kind, level, bank_code,
                               account_number, holder_name, currency, requested_minor, freeze_minor,
                               incoming, idempotency_key)
    SELECT o.case_id, p.stop_order_id, o.order_id, 'stop', o.level, o.bank_code, o.account_number,
           o.holder_name, :currency, o.requested_minor, o.requested_minor, o.incoming,
           o.idempotency_key || '/stop'
    FROM orders o
    JOIN planned p USING (order_id)
    RETURNING case_id, order_id, bank_code, account_number, requested_minor
), accounts AS (
    INSERT INTO trail_accounts (case_id, bank_code, account_number, holder_name, level, in_flight_minor)
    SELECT o.case_id, o.bank_code, o.account_number, o.holder_name, o.level, o.requested_minor
    FROM orders o
), events AS (
    -- This case's events first, then the first cases' (their chain heads in case_id order).
    INSERT INTO case_events (case_id, actor, kind, order_id, detail)
    SELECT e.case_id, :actor, e.kind, e.order_id, e.detail
    FROM (
        SELECT 0 AS part, nc.case_id, 'case.accepted' AS kind, NULL::uuid AS order_id,
               jsonb_build_object('entry_id', :entry_id::text, 'reported_minor', :reported_minor::bigint)
               || CASE WHEN :confirmation::jsonb IS NULL THEN '{}'::jsonb
                       ELSE jsonb_build_object('confirmation', :confirmation::jsonb) END AS detail,
               NULL::text AS k1, NULL::text AS k2
        FROM new_case nc
        UNION ALL
        SELECT 1, o.case_id, 'order.queued', o.order_id,
               jsonb_build_object('bank_code', o.bank_code, 'requested_minor', o.requested_minor),
               o.bank_code, o.account_number
        FROM orders o
        UNION ALL
        SELECT 1, s.case_id, 'order.queued', s.order_id,
               jsonb_build_object('bank_code', s.bank_code, 'requested_minor', s.requested_minor,
                                  'kind', 'stop'),
               s.bank_code, s.account_number || '/stop'
        FROM stops s
        UNION ALL
        SELECT 2, l.case_id, 'transfer.linked', NULL,
               jsonb_build_object('txn_id', l.txn_id, 'bank_code', l.payee_bank,
                                  'amount_minor', l.amount_minor, 'linked_case_id', l.linked_case_id),
               lpad(l.ordinal::text, 10, '0'), NULL
        FROM linked l
        UNION ALL
        SELECT 3, l.linked_case_id, 'transfer.reported_again', NULL,
               jsonb_build_object('txn_id', l.txn_id, 'bank_code', l.payee_bank,
                                  'amount_minor', l.amount_minor, 'linked_case_id', l.case_id,
                                  'station_id', :station_id::text),
               l.linked_case_id::text, lpad(l.ordinal::text, 10, '0')
        FROM linked l
    ) e
    ORDER BY e.part, e.k1, e.k2
)
SELECT (SELECT case_id FROM new_case) AS inserted,
       (SELECT payload_sha256 FROM cases WHERE case_id = :case_id) AS existing_sha256,
       (SELECT COALESCE(jsonb_agg(jsonb_build_object(
                   'case_id', l.linked_case_id, 'traced_there', true, 'txn_id', l.txn_id, 'amount_minor', l.amount_minor,
                   'payer_bank', l.payer_bank, 'payer_number', l.payer_number,
                   'payer_holder', l.payer_holder, 'payee_bank', l.payee_bank,
                   'payee_number', l.payee_number, 'payee_holder', l.payee_holder,
                   'station_id', l.linked_station_id, 'created_at', l.linked_created_at)
                   ORDER BY l.ordinal), '[]'::jsonb)
        FROM linked l) AS linked,
       -- The writer wakes the dispatchers once this commits (service/entries.py), and
       -- freeze_orders_notify leaves these orders to it (migration 0019): transactions that NOTIFY
       -- commit one disk flush at a time. Row triggers run after the whole statement, so they see
       -- this setting; it ends with the transaction.
       set_config('stopay.wake_after_commit', 'on', true) AS wake_after_commit

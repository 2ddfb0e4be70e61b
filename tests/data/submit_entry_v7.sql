-- submit_entry.sql as schema versions 1 to 7 had it (before transfer_owners), for a database
-- built at such a version; it links nothing. It takes today's parameters: $20 (the window for
-- linking a transfer reported again), $21 (the victim's confirmation, which case.accepted did not
-- record then) and its answer's `linked` column are there only for that.
-- One entry in one statement: the case, its transfers, one level-1 freeze order per receiving
-- account and the events, or nothing at all when the case (derived from entry_id) exists already.
-- $1 case_id, $2 entry_id, $3 payload_sha256, $4 station_id, $5 officer_id, $6 report_no,
-- $7 victim_name, $8 victim_id_number, $9 victim_phone, $10 fraud_type, $11 narrative,
-- $12 currency, $13 reported_minor, $14 transfers (jsonb array), $15 orders (jsonb array), $16 actor,
-- $17 rule, $18 max_depth, $19 min_amount (the tracing policy the case keeps for its whole life)
WITH new_case AS (
    INSERT INTO cases (case_id, entry_id, payload_sha256, station_id, officer_id, report_no,
                       victim_name, victim_id_number, victim_phone, fraud_type, narrative,
                       currency, reported_minor, rule, max_depth, min_amount)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $17, $18, $19)
    ON CONFLICT (case_id) DO NOTHING
    RETURNING case_id
), transfers AS (
    INSERT INTO entry_transfers (case_id, ordinal, txn_id, payer_bank, payer_number, payer_holder,
                                 payee_bank, payee_number, payee_holder, amount_minor, currency,
                                 transferred_at, channel)
    SELECT nc.case_id, t.ordinal, t.txn_id, t.payer_bank, t.payer_number, t.payer_holder,
           t.payee_bank, t.payee_number, t.payee_holder, t.amount_minor, $12, t.transferred_at, t.channel
    FROM new_case nc,
         jsonb_to_recordset($14::jsonb) AS t(ordinal int, txn_id text, payer_bank text,
             payer_number text, payer_holder text, payee_bank text, payee_number text,
             payee_holder text, amount_minor bigint, transferred_at timestamptz, channel text)
), orders AS (
    INSERT INTO freeze_orders (case_id, order_id, level, bank_code, account_number, holder_name,
                               currency, requested_minor, incoming, idempotency_key)
    SELECT nc.case_id, o.order_id, o.level, o.bank_code, o.account_number, o.holder_name, $12,
           o.requested_minor, o.incoming, nc.case_id::text || ':' || o.order_id::text
    FROM new_case nc,
         jsonb_to_recordset($15::jsonb) AS o(order_id uuid, level int, bank_code text,
             account_number text, holder_name text, requested_minor bigint, incoming jsonb)
    RETURNING case_id, order_id, bank_code, requested_minor
), events AS (
    INSERT INTO case_events (case_id, actor, kind, order_id, detail)
    SELECT nc.case_id, $16, 'case.accepted', NULL,
           jsonb_build_object('entry_id', $2::text, 'reported_minor', $13::bigint)
    FROM new_case nc
    UNION ALL
    SELECT o.case_id, $16, 'order.queued', o.order_id,
           jsonb_build_object('bank_code', o.bank_code, 'requested_minor', o.requested_minor)
    FROM orders o
)
SELECT (SELECT case_id FROM new_case) AS inserted,
       (SELECT payload_sha256 FROM cases WHERE case_id = $1) AS existing_sha256, '[]'::jsonb AS linked,
       $20::float8 AS same_transfer_window_s, $21::jsonb AS confirmation

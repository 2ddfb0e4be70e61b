-- stopay schema, version 4.
-- * trail_accounts remembers the newest statement line applied (time, then the bank's sequence
--   number), so a statement older than one already applied (a slow answer, another replica) is
--   asked again rather than allowed to undo a fuller view.
-- * An exit is a transfer of one account: its key names the account, since transaction ids are
--   only unique within a bank.
ALTER TABLE trail_accounts
    ADD COLUMN seen_at timestamptz,
    ADD COLUMN seen_seq bigint;

ALTER TABLE trail_exits
    DROP CONSTRAINT trail_exits_pkey,
    ADD PRIMARY KEY (case_id, bank_code, account_number, txn_id);

-- A case with its totals, as every reader shows it. Filters and a LIMIT on cases' columns reach
-- the cases table's indexes through this view, so a page of cases stays cheap.
CREATE VIEW case_summaries AS
SELECT c.case_id, c.entry_id, c.station_id, c.officer_id, c.report_no, c.victim_name,
       c.fraud_type, c.currency, c.reported_minor, c.created_at, c.rule, c.max_depth, c.min_amount,
       x.exited_minor, o.held_minor, o.order_count, o.open_orders
FROM cases c
CROSS JOIN LATERAL (
    SELECT COALESCE(sum(held_minor - released_minor), 0)::bigint AS held_minor,
           count(*)::int AS order_count,
           count(*) FILTER (WHERE status IN ('queued', 'freezing', 'pending'))::int AS open_orders
    FROM freeze_orders WHERE case_id = c.case_id
) o
CROSS JOIN LATERAL (
    SELECT COALESCE(sum(amount_minor), 0)::bigint AS exited_minor FROM trail_exits WHERE case_id = c.case_id
) x;

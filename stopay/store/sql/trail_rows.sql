-- The locked knowledge rows of the accounts in :accounts (jsonb array of {case_id, bank_code, account_number}),
-- with the state of the case's hold on each, the amount its legal document names (if any), the most
-- an objection partly upheld left it holding (if any), and
-- the exits recorded there (txn_id -> amount) and the accounts the case's victim paid from
-- ([[bank_code, number], ...]: money that reaches them is back with the victim), how many of the
-- case's statements of the account are still due (its freeze orders there still queued), how many
-- releases (of any case) the bank has answered on the account, and that count when the case last
-- asked to freeze there.
SELECT t.case_id, t.bank_code, t.account_number, t.holder_name, t.level, t.incoming, t.sent, t.rev,
       t.left_minor, t.held_minor, t.in_flight_minor, t.releasing_minor, t.seen_at, t.seen_seq,
       (SELECT coalesce(jsonb_object_agg(x.txn_id, x.amount_minor), '{}'::jsonb) FROM trail_exits x
        WHERE x.case_id = t.case_id AND x.bank_code = t.bank_code AND x.account_number = t.account_number
       ) AS exited,
       (SELECT coalesce(jsonb_agg(DISTINCT jsonb_build_array(e.payer_bank, e.payer_number)), '[]'::jsonb)
        FROM entry_transfers e WHERE e.case_id = t.case_id) AS victim_accounts,
       h.state AS hold_state,
       (SELECT count(*) FROM freeze_orders o
        WHERE o.case_id = t.case_id AND o.bank_code = t.bank_code AND o.account_number = t.account_number
          AND freeze_order_open(o.status) AND o.kind = 'freeze' AND o.status = 'queued')::int AS statements_due,
       (SELECT count(*) FROM freeze_orders r
        WHERE r.bank_code = t.bank_code AND r.account_number = t.account_number
          AND r.kind = 'release' AND r.status = 'released' AND r.released_minor > 0)::int AS releases,
       t.asked_releases,
       (SELECT c.currency FROM cases c WHERE c.case_id = t.case_id) AS currency,
       (h.document ->> 'amount_minor')::bigint AS hold_document_minor, h.limit_minor AS hold_limit_minor
FROM trail_accounts t
JOIN jsonb_to_recordset(:accounts::jsonb) AS w(case_id uuid, bank_code text, account_number text)
  ON t.case_id = w.case_id AND t.bank_code = w.bank_code AND t.account_number = w.account_number
-- Every change of a hold locks its trail row first, so the hold's state read here stands.
LEFT JOIN holds h
  ON h.case_id = t.case_id AND h.bank_code = t.bank_code AND h.account_number = t.account_number
ORDER BY t.case_id, t.bank_code, t.account_number
FOR UPDATE OF t

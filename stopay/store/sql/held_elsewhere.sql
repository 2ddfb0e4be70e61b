-- For each of :accounts (a case's account whose order was just answered): the other cases that
-- hold money there now (a hold of theirs on the account, and held_minor above 0 on their trail
-- row, as hold_views reads it), oldest case first, with what each holds; and the other cases the
-- case recorded there last (the detail's "others" of its latest account.held_for_other_case event
-- about an order at the account; NULL when none). Reads only: it takes no lock, so it keeps the
-- lock order of the trail transaction it runs in (trail rows, then holds, then chain heads).
SELECT a.case_id, a.bank_code, a.account_number,
       coalesce(others.list, '[]'::jsonb) AS others,
       (SELECT e.detail -> 'others'
        FROM case_events e
        JOIN freeze_orders fo ON fo.case_id = e.case_id AND fo.order_id = e.order_id
        WHERE e.case_id = a.case_id AND e.kind = 'account.held_for_other_case'
          AND fo.bank_code = a.bank_code AND fo.account_number = a.account_number
        ORDER BY e.chain_pos DESC
        LIMIT 1) AS recorded
FROM jsonb_to_recordset(:accounts::jsonb) AS a(case_id uuid, bank_code text, account_number text)
CROSS JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_object('case_id', o.case_id, 'held_minor', o.held_minor)
                     ORDER BY c.created_at, o.case_id) AS list
    FROM holds h
    JOIN trail_accounts o ON o.case_id = h.case_id AND o.bank_code = h.bank_code
                         AND o.account_number = h.account_number
    JOIN cases c ON c.case_id = o.case_id
    WHERE h.bank_code = a.bank_code AND h.account_number = a.account_number
      AND h.case_id <> a.case_id AND o.held_minor > 0
) others

-- Accounts on the trails of at least :min_cases cases, one row per case there: most cases first,
-- then by account, each account's cases oldest first. Per case, in minor units: traced, the
-- victim's money the case followed into the account (the labelled parts of what came in, its
-- "own" money left out); held, what the case holds there now; returned, what its return orders
-- there paid to victims.
WITH repeat AS (
    SELECT bank_code, account_number, count(*)::int AS case_count
    FROM trail_accounts
    GROUP BY bank_code, account_number
    HAVING count(*) >= :min_cases
)
SELECT r.bank_code, r.account_number, r.case_count, t.case_id, c.station_id, t.level, t.holder_name,
       t.held_minor,
       coalesce((SELECT sum((p ->> 1)::bigint)
                 FROM jsonb_each(t.incoming) AS i(txn_id, item),
                      jsonb_array_elements(coalesce(i.item -> 'parts', '[]'::jsonb)) AS p
                 WHERE p ->> 0 <> 'own'), 0)::bigint AS traced_minor,
       coalesce((SELECT sum(o.released_minor) FROM freeze_orders o
                 WHERE o.case_id = t.case_id AND o.bank_code = t.bank_code
                   AND o.account_number = t.account_number AND o.kind = 'return'
                   AND o.status = 'returned'), 0)::bigint AS returned_minor
FROM repeat r
JOIN trail_accounts t ON t.bank_code = r.bank_code AND t.account_number = r.account_number
JOIN cases c ON c.case_id = t.case_id
ORDER BY r.case_count DESC, r.bank_code, r.account_number, c.created_at, t.case_id

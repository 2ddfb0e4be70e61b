-- The accounts on case :case_id's trail where other cases hold money now (their hold's held_minor,
-- as hold_views reads it, above 0): the other cases, oldest first, and what they hold there together.
SELECT mine.bank_code, mine.account_number, mine.holder_name,
       array_agg(o.case_id ORDER BY c.created_at, o.case_id) AS other_case_ids,
       sum(o.held_minor)::bigint AS held_by_others_minor
FROM trail_accounts mine
JOIN holds h ON h.bank_code = mine.bank_code AND h.account_number = mine.account_number
            AND h.case_id <> mine.case_id
JOIN trail_accounts o ON o.case_id = h.case_id AND o.bank_code = h.bank_code
                     AND o.account_number = h.account_number
JOIN cases c ON c.case_id = o.case_id
WHERE mine.case_id = :case_id AND o.held_minor > 0
GROUP BY mine.bank_code, mine.account_number, mine.holder_name
ORDER BY mine.bank_code, mine.account_number

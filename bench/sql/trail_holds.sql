-- What the trail's case holds at each account it reached, with the number of freeze orders it
-- opened there (the tree's trail opens one per account).
SELECT a.bank_code, a.account_number, a.held_minor,
       (SELECT count(*) FROM freeze_orders o
        WHERE o.case_id = a.case_id AND o.bank_code = a.bank_code AND o.account_number = a.account_number
          AND o.kind = 'freeze') AS orders
FROM trail_accounts a

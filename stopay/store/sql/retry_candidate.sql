-- The order an operator asks to retry (:order_id) as domain.orders.retry_plan needs it: its kind,
-- level, status and amount, the state of the case's hold on its account (NULL: none) and the account's
-- money as the case knows it (NULL: no row). Nothing is
-- returned when there is no such order.
--
-- The account's trail row is locked first and the hold shared after it, the order every writer
-- keeps (trail rows, then holds, then chain heads): the hold cannot end between this read and the
-- retry's write in the same transaction, and the write's change to the trail row cannot deadlock
-- with a sweeper ending the hold.
WITH target AS (
    SELECT o.case_id, o.bank_code, o.account_number, o.kind, o.level, o.status, o.requested_minor
    FROM freeze_orders o
    WHERE o.order_id = :order_id
)
SELECT t.case_id, t.kind, t.level, t.status, t.requested_minor,
       (SELECT count(*) FROM (
            SELECT 1 FROM trail_accounts a
            WHERE a.case_id = t.case_id AND a.bank_code = t.bank_code AND a.account_number = t.account_number
            FOR UPDATE
        ) AS locked) AS accounts_locked,
       (SELECT h.state FROM holds h
        WHERE h.case_id = t.case_id AND h.bank_code = t.bank_code AND h.account_number = t.account_number
        FOR SHARE) AS hold_state,
       -- What the case knows of the account's money (read after the row's lock above).
       (SELECT jsonb_build_object('rev', a.rev, 'left_minor', a.left_minor, 'held_minor', a.held_minor,
                                  'in_flight_minor', a.in_flight_minor, 'releasing_minor', a.releasing_minor)
        FROM trail_accounts a
        WHERE a.case_id = t.case_id AND a.bank_code = t.bank_code AND a.account_number = t.account_number
       ) AS money
FROM target t

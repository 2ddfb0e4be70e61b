-- How far the dispatcher has drained: orders still open, orders in all, bank answers recorded.
SELECT (SELECT count(*) FROM freeze_orders WHERE freeze_order_open(status)) AS open_orders,
       (SELECT count(*) FROM freeze_orders) AS orders,
       (SELECT count(*) FROM bank_answers) AS answers

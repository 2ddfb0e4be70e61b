-- Orders still open and in all.
SELECT (SELECT count(*) FROM freeze_orders WHERE freeze_order_open(status)) AS open_orders,
       (SELECT count(*) FROM freeze_orders) AS orders

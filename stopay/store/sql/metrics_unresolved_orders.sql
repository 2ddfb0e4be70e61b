-- The metrics' unresolved orders (freeze_order_unresolved) by status and bank, without a lock, each
-- read from an index, so few rows however many orders have settled:
-- * the open ones (freeze_order_open), from their partial index freeze_orders_due;
-- * those awaiting review, found through the cases whose review awaits a supervisor (the partial
--   index case_reviews_awaiting, then each case's orders by its primary key): a freeze waits for
--   review only while its case's review is awaiting (stopay/domain/review.py), and the decision
--   moves every waiting freeze on in the same transaction.
SELECT status, bank_code, count(*) AS orders
FROM freeze_orders
WHERE freeze_order_open(status)
GROUP BY status, bank_code
UNION ALL
SELECT o.status, o.bank_code, count(*)
FROM case_reviews r
JOIN freeze_orders o ON o.case_id = r.case_id AND o.status = 'awaiting_review'
WHERE r.state = 'awaiting'
GROUP BY o.status, o.bank_code

-- Orders by status.
SELECT status, count(*) AS orders FROM freeze_orders GROUP BY status ORDER BY status

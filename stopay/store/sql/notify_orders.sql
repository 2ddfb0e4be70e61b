-- Wakes the dispatchers of every process (store/notifications.py ORDERS): orders were committed by
-- a transaction that left waking them to its writer (stopay.wake_after_commit, migration 0019).
SELECT pg_notify('stopay_orders', '')

-- stopay schema, version 10: one clock for the whole service.
--
-- The dispatcher's times (when an order is due, how long a claim's lease lasts, when an order was
-- created and so when its delivery deadline passes) are read by stopay_now(), the clock the hold
-- lifecycle already reads. A production database has no stopay_clock row, so stopay_now() is now()
-- and nothing changes. A drill or a test that moves the row moves every deadline together: orders
-- fall due, leases run out and delivery deadlines pass as if that much time had gone by.
--
-- Leases stay correct across replicas: every replica reads this one database's clock, so they
-- agree on when a lease ends. Moving the clock on ends leases early, which is a crash of their
-- owner as the others see it (the work is claimed again; answers are recorded only under the claim
-- that made the attempt, and idempotency keys keep a bank from applying a request twice). Moving
-- it back only makes leases and waits last longer.

ALTER TABLE freeze_orders
    ALTER COLUMN next_attempt_at SET DEFAULT stopay_now(),
    ALTER COLUMN created_at SET DEFAULT stopay_now();

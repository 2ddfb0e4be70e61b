-- Serializes, for the rest of the transaction, the registrations of replicas (register_replica.sql)
-- with the giving up of orders no replica serves (give_up_unserved.sql): a replica that registers
-- is either seen by a give-up, or finds the orders it would have served already settled.
SELECT pg_advisory_xact_lock(hashtextextended('stopay.dispatch_replicas', 0))

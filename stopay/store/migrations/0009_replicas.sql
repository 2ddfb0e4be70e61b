-- stopay schema, version 9: which replica serves which banks.
--
-- Replicas on one database may have different adapters. Every process that runs a dispatcher
-- registers here the bank codes its adapters serve, and keeps its registration alive by the
-- database clock (store/sql/register_replica.sql, a heartbeat from the dispatcher); a replica that
-- stops, or dies, lapses. A dispatcher claims only the orders of the banks it serves, and a freeze
-- order still asking for its statement is given up for want of an adapter (NOAD) only when no live
-- replica serves its bank (store/sql/give_up_unserved.sql). Rows lapsed long ago are pruned at
-- registration.
--
-- A small table of its own, keyed by the replica, written a few times a minute per replica: under
-- Citus it stays on the coordinator (or becomes a reference table), like freeze_order_transitions.
CREATE TABLE dispatch_replicas (
    owner       text        PRIMARY KEY,
    bank_codes  text[]      NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    alive_until timestamptz NOT NULL
);

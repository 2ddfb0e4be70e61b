"""Fault drills: ``stopay drill NAME`` starts what a drill needs on this machine (PostgreSQL or a
Patroni cluster, bank-sim, stopay replicas), loads it, injects the fault, and prints figures
(docs/reliability.md#drills)."""

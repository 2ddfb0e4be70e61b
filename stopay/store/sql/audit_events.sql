-- Every event with its place in its case's audit chain, chain by chain, in chain order; detail as
-- jsonb's canonical text (store/migrations/0006_audit_chain.sql defines the chain and its encoding).
SELECT case_id, chain_pos, seq, at, actor, kind, order_id, detail::text AS detail, prev_hash, hash
FROM case_events
ORDER BY case_id, chain_pos, seq

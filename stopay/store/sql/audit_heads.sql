-- Every case's audit chain head (its last event's seq and hash, and how many events it has), by
-- case_id, with the time of the snapshot they were read in.
SELECT case_id, seq, hash, events, now() AS taken_at
FROM case_chain_heads
ORDER BY case_id

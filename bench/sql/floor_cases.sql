-- Up to $1 cases of the floor part's database, for its chained events.
SELECT case_id FROM cases ORDER BY case_id LIMIT $1

-- Of the acknowledged entries ($1), how many have their case stored; and cases in all.
SELECT (SELECT count(*) FROM cases WHERE entry_id = ANY($1::text[])) AS stored,
       (SELECT count(*) FROM cases) AS cases

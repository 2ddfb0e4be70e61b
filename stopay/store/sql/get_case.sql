-- One case with its totals. $1 case_id.
SELECT * FROM case_summaries WHERE case_id = $1

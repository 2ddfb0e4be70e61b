-- One case with its totals (no row: no such case). :case_id the case.
SELECT * FROM case_summaries WHERE case_id = :case_id

-- The station that submitted the case :case_id (no row: no such case).
SELECT station_id FROM cases WHERE case_id = :case_id

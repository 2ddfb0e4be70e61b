-- The station that submitted case $1 (no row: no such case).
SELECT station_id FROM cases WHERE case_id = $1

-- The database's time (the snapshot's, in a transaction).
SELECT now()

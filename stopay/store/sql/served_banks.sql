-- The banks a live replica's dispatcher serves now (dispatch_replicas, kept alive by the database
-- clock), each once, by code.
SELECT DISTINCT b.bank_code
FROM dispatch_replicas r CROSS JOIN LATERAL unnest(r.bank_codes) AS b(bank_code)
WHERE r.alive_until > stopay_now()
ORDER BY b.bank_code

-- The holds on account $1:$2, locked, in case_id order; the caller holds the trail rows' locks. For
-- a return: whether each has expired, whether it lapses within $3 days (before a notice would end),
-- and the status of its latest extension (a formal freeze the bank has not confirmed is not paid
-- out of).
SELECT h.case_id, h.state, h.document, h.expires_at <= stopay_now() AS expired,
       h.expires_at < stopay_now() + make_interval(days => $3) AS lapses_first,
       (SELECT o.status FROM freeze_orders o
        WHERE o.case_id = h.case_id AND o.bank_code = h.bank_code AND o.account_number = h.account_number
          AND o.kind = 'extend'
        ORDER BY o.created_at DESC, o.order_id LIMIT 1) AS last_extension
FROM holds h
WHERE h.bank_code = $1 AND h.account_number = $2
ORDER BY h.case_id
FOR UPDATE OF h

-- The holds on account :bank_code/:account_number, locked, in case_id order; the caller holds the
-- trail rows' locks. For a return: each hold's expiry, the hold lifecycle's clock (stopay_now()), and
-- the status of its latest extension (the domain does not pay from a formal freeze the bank has not
-- confirmed: domain.returns.check_returnable).
SELECT h.case_id, h.state, h.expires_at, stopay_now() AS now,
       (SELECT o.status FROM freeze_orders o
        WHERE o.case_id = h.case_id AND o.bank_code = h.bank_code AND o.account_number = h.account_number
          AND o.kind = 'extend'
        ORDER BY o.created_at DESC, o.order_id LIMIT 1) AS last_extension
FROM holds h
WHERE h.bank_code = :bank_code AND h.account_number = :account_number
ORDER BY h.case_id
FOR UPDATE OF h

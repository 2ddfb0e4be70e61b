-- The order an operator asks to retry (:order_id) as domain.orders.retry_plan needs it: its kind,
-- status and amount, and whether the case's hold on its account is live (an emergency stop or a
-- formal freeze). Nothing is returned when there is no such order.
SELECT o.case_id, o.kind, o.status, o.requested_minor,
       EXISTS (
           SELECT 1 FROM holds h
           WHERE h.case_id = o.case_id AND h.bank_code = o.bank_code AND h.account_number = o.account_number
             AND h.state IN ('stopped', 'frozen')
       ) AS hold_live
FROM freeze_orders o
WHERE o.order_id = :order_id

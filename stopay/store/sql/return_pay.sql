-- The notice of the return from the hold of case $1 on account $2:$3 has ended (the caller holds the
-- row locks): its payments fall due now. $4 the actor. Returns the hold if it was still waiting.
WITH paid AS (
    UPDATE holds h SET return_paid_at = stopay_now(), updated_at = now()
    WHERE h.case_id = $1 AND h.bank_code = $2 AND h.account_number = $3
      AND h.state = 'returning' AND h.return_paid_at IS NULL AND h.return_due_at <= stopay_now()
    RETURNING h.*
), due AS (
    UPDATE freeze_orders o SET next_attempt_at = stopay_now()
    FROM paid p
    WHERE o.case_id = p.case_id AND o.bank_code = p.bank_code AND o.account_number = p.account_number
      AND o.kind = 'return' AND o.status = 'queued' AND o.next_attempt_at = 'infinity'
    RETURNING o.order_id, o.requested_minor
), events AS (
    INSERT INTO case_events (case_id, actor, kind, detail)
    SELECT p.case_id, $4, 'return.notice_ended',
           jsonb_build_object('bank_code', p.bank_code, 'orders', (SELECT count(*) FROM due),
                              'amount_minor', (SELECT coalesce(sum(requested_minor), 0) FROM due))
    FROM paid p
    RETURNING seq
)
SELECT p.* FROM paid p

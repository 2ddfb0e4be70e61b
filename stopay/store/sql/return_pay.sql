-- The notice of the return from the hold of case :case_id on account :bank_code/:account_number has
-- ended (the caller holds the row locks, and asked the domain: domain.holds.notice_ended): its parked
-- payments (next_attempt_at 'infinity', as return_write.sql parks them) fall due now. :actor.
-- Returns the hold.
WITH paid AS (
    UPDATE holds h SET return_paid_at = stopay_now(), updated_at = now()
    WHERE h.case_id = :case_id AND h.bank_code = :bank_code AND h.account_number = :account_number
    RETURNING h.*
), due AS (
    UPDATE freeze_orders o SET next_attempt_at = stopay_now()
    FROM paid p
    WHERE o.case_id = p.case_id AND o.bank_code = p.bank_code AND o.account_number = p.account_number
      AND o.kind = 'return' AND o.status = 'queued' AND o.next_attempt_at = 'infinity'
    RETURNING o.order_id, o.requested_minor
), events AS (
    INSERT INTO case_events (case_id, actor, kind, detail)
    SELECT p.case_id, :actor, 'return.notice_ended',
           jsonb_build_object('bank_code', p.bank_code, 'orders', (SELECT count(*) FROM due),
                              'amount_minor', (SELECT coalesce(sum(requested_minor), 0) FROM due))
    FROM paid p
    RETURNING seq
)
SELECT p.* FROM paid p

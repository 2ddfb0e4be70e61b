-- Marks the coming expiry of the hold of case :case_id on account :bank_code/:account_number as warned
-- of, and logs it (:actor). The caller holds the row locks and has asked the domain that the hold is
-- within its warning time and not warned of yet in this period (domain.holds.warn_due). Returns the hold.
WITH warned AS (
    UPDATE holds h SET warned_at = stopay_now(), updated_at = now()
    WHERE h.case_id = :case_id AND h.bank_code = :bank_code AND h.account_number = :account_number
    RETURNING h.*
), events AS (
    INSERT INTO case_events (case_id, actor, kind, detail)
    SELECT w.case_id, :actor, 'hold.expiring',
           jsonb_build_object('bank_code', w.bank_code, 'state', w.state, 'expires_at', w.expires_at,
                              'stops', w.stops, 'max_stops', w.max_stops, 'freezes', w.freezes)
    FROM warned w
    RETURNING seq
)
SELECT w.* FROM warned w

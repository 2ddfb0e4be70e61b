-- Marks the coming expiry of the hold of case $1 on account $2:$3 as warned of, and logs it, if it
-- is within its warning time ($5 hours before an emergency stop ends, $6 days before a formal freeze
-- ends) and was not warned of yet in this period (the caller holds the row locks, so a renewal that
-- came first has moved the expiry on). $4 the actor. Returns the hold if it warned.
WITH warned AS (
    UPDATE holds h SET warned_at = stopay_now(), updated_at = now()
    WHERE h.case_id = $1 AND h.bank_code = $2 AND h.account_number = $3
      AND hold_warn_due(h.state, h.expires_at, h.warned_at, $5, $6)
    RETURNING h.*
), events AS (
    INSERT INTO case_events (case_id, actor, kind, detail)
    SELECT w.case_id, $4, 'hold.expiring',
           jsonb_build_object('bank_code', w.bank_code, 'state', w.state, 'expires_at', w.expires_at,
                              'stops', w.stops, 'max_stops', w.max_stops, 'freezes', w.freezes)
    FROM warned w
    RETURNING seq
)
SELECT w.* FROM warned w

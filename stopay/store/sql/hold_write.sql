-- Takes one move of the hold of case :case_id on account :bank_code/:account_number, whose trail row
-- and hold row the caller has locked (hold_trail_lock.sql, hold_row.sql) and whose chain head too
-- (chain_lock.sql). The domain decided every figure (domain.holds.HoldMove):
--   :state, :stops, :freezes, :major; :document, the legal document (null: keep it);
--   :months and :hours the expiry moves by, from the old expiry when :from_expiry else from now (by
--   stopay_now()); a null :months leaves the expiry alone; :ended, whether the hold ends now, and
--   :end_reason why ('' while it lasts);
--   :out_minor what goes out to the bank to be released or returned (added to releasing_minor);
--   :left_minor what the case may keep held there from now on (domain.holds.left_within_hold);
--   :orders the orders to the bank (store.holds.HoldOrderRow; an 'extend' order's params get the new
--   expiry as "until"); :events the events (store.holds.HoldEventRow; each detail gets the hold's new
--   state and expiry); :actor.
-- Returns the hold as it now is.
WITH moved AS (
    UPDATE holds h
    SET state = :state, stops = :stops, freezes = :freezes, major = :major,
        document = coalesce(:document::jsonb, h.document),
        expires_at = CASE WHEN :months::int IS NULL THEN h.expires_at
                          ELSE (CASE WHEN :from_expiry::bool THEN h.expires_at ELSE stopay_now() END)
                               + make_interval(months => :months::int, hours => :hours::int) END,
        warned_at = CASE WHEN :months::int IS NULL THEN h.warned_at END,
        ended_at = CASE WHEN :ended::bool THEN stopay_now() END,
        end_reason = :end_reason,
        updated_at = now()
    WHERE h.case_id = :case_id AND h.bank_code = :bank_code AND h.account_number = :account_number
    RETURNING h.*
), trail AS (
    UPDATE trail_accounts t
    SET releasing_minor = t.releasing_minor + :out_minor, left_minor = :left_minor, updated_at = now()
    WHERE t.case_id = :case_id AND t.bank_code = :bank_code AND t.account_number = :account_number
    RETURNING t.level, t.holder_name, t.held_minor
), orders AS (
    INSERT INTO freeze_orders (case_id, order_id, kind, level, bank_code, account_number, holder_name,
                               currency, requested_minor, incoming, idempotency_key, params)
    SELECT :case_id, n.order_id, n.kind, t.level, :bank_code, :account_number, t.holder_name, c.currency,
           n.requested_minor, '[]'::jsonb, :case_id::text || ':' || n.order_id::text,
           n.params || CASE WHEN n.kind = 'extend'
                            THEN jsonb_build_object('until', (SELECT expires_at FROM moved))
                            ELSE '{}'::jsonb END
    FROM jsonb_to_recordset(:orders::jsonb) AS n(order_id uuid, kind text, requested_minor bigint, params jsonb)
    CROSS JOIN trail t
    JOIN cases c ON c.case_id = :case_id
    RETURNING order_id
), events AS (
    INSERT INTO case_events (case_id, actor, kind, order_id, detail)
    SELECT :case_id, :actor, e.kind, e.order_id,
           e.detail || jsonb_build_object('bank_code', :bank_code::text, 'state', m.state,
                                          'expires_at', m.expires_at)
    FROM jsonb_to_recordset(:events::jsonb) AS e(kind text, order_id uuid, detail jsonb)
    CROSS JOIN moved m
    RETURNING seq
)
SELECT m.*, m.expires_at <= stopay_now() AS expired, t.held_minor, t.holder_name,
       (SELECT count(*) FROM orders) AS orders, (SELECT count(*) FROM events) AS events
FROM moved m CROSS JOIN trail t

-- Takes one step of the hold of case $1 on account $2:$3, whose trail row and hold row the caller
-- has locked (hold_trail_lock.sql, hold_row.sql) and whose chain head too (chain_lock.sql):
--   $4 the new state, $5 stops, $6 freezes, $7 major, $8 the legal document (null: keep it);
--   $9 months and $10 hours the expiry moves by, from the old expiry when $11 else from now (by
--   stopay_now()); a null $9 leaves the expiry alone; $12 why it ended ('' while it lasts);
--   $13 what goes out to the bank to be released or returned (added to releasing_minor);
--   $14 the orders to the bank [{order_id, kind, requested_minor, params}] (an 'extend' order's
--   params get the new expiry as "until"); $15 the events [{kind, order_id, detail}] (each detail
--   gets the hold's new state and expiry); $16 the actor; $17 the most the case may hold there
--   from now on (a legal document's amount; null: no new limit).
-- Returns the hold as it now is.
WITH moved AS (
    UPDATE holds h
    SET state = $4, stops = $5, freezes = $6, major = $7,
        document = coalesce($8::jsonb, h.document),
        expires_at = CASE WHEN $9::int IS NULL THEN h.expires_at
                          ELSE (CASE WHEN $11::bool THEN h.expires_at ELSE stopay_now() END)
                               + make_interval(months => $9::int, hours => $10::int) END,
        warned_at = CASE WHEN $9::int IS NULL THEN h.warned_at END,
        ended_at = CASE WHEN $4 IN ('released', 'lapsed', 'returned') THEN stopay_now() END,
        end_reason = $12,
        updated_at = now()
    WHERE h.case_id = $1 AND h.bank_code = $2 AND h.account_number = $3
    RETURNING h.*
), trail AS (
    -- A hold that ends keeps nothing for the case: whatever a freeze still out holds is given back.
    UPDATE trail_accounts t
    SET releasing_minor = t.releasing_minor + $13,
        left_minor = CASE WHEN $4 IN ('released', 'lapsed') THEN 0
                          ELSE least(t.left_minor, coalesce($17::bigint, t.left_minor)) END,
        updated_at = now()
    WHERE t.case_id = $1 AND t.bank_code = $2 AND t.account_number = $3
    RETURNING t.level, t.holder_name, t.held_minor
), orders AS (
    INSERT INTO freeze_orders (case_id, order_id, kind, level, bank_code, account_number, holder_name,
                               currency, requested_minor, incoming, idempotency_key, params)
    SELECT $1, n.order_id, n.kind, t.level, $2, $3, t.holder_name, c.currency, n.requested_minor,
           '[]'::jsonb, $1::text || ':' || n.order_id::text,
           n.params || CASE WHEN n.kind = 'extend'
                            THEN jsonb_build_object('until', (SELECT expires_at FROM moved))
                            ELSE '{}'::jsonb END
    FROM jsonb_to_recordset($14::jsonb) AS n(order_id uuid, kind text, requested_minor bigint, params jsonb)
    CROSS JOIN trail t
    JOIN cases c ON c.case_id = $1
    RETURNING order_id
), events AS (
    INSERT INTO case_events (case_id, actor, kind, order_id, detail)
    SELECT $1, $16, e.kind, e.order_id,
           e.detail || jsonb_build_object('bank_code', $2::text, 'state', m.state,
                                          'expires_at', m.expires_at)
    FROM jsonb_to_recordset($15::jsonb) AS e(kind text, order_id uuid, detail jsonb)
    CROSS JOIN moved m
    RETURNING seq
)
SELECT m.*, m.expires_at <= stopay_now() AS expired, t.held_minor, t.holder_name,
       (SELECT count(*) FROM orders) AS orders, (SELECT count(*) FROM events) AS events
FROM moved m CROSS JOIN trail t

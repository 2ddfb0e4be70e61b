-- Starts the return of the money held on account $1:$2. The caller holds the locks of every case's
-- trail row and hold there (account_trail_lock.sql, account_holds.sql) and of their chain heads.
--   $3 the paying holds [{case_id, out_minor}]: each moves to 'returning'; out_minor goes out;
--   $4 whether the return is direct (paid now) or rateable (paid when $5 days of notice end);
--   $6 the return orders [{case_id, order_id, requested_minor, params}], in the paying case;
--   $7 the events [{case_id, kind, detail}]; $8 the actor.
WITH moved AS (
    UPDATE holds h
    SET state = 'returning', return_due_at = stopay_now() + make_interval(days => CASE WHEN $4 THEN 0 ELSE $5 END),
        return_paid_at = CASE WHEN $4 THEN stopay_now() END, updated_at = now()
    FROM jsonb_to_recordset($3::jsonb) AS p(case_id uuid, out_minor bigint)
    WHERE h.case_id = p.case_id AND h.bank_code = $1 AND h.account_number = $2
    RETURNING h.case_id, h.return_due_at
), trail AS (
    UPDATE trail_accounts t
    SET releasing_minor = t.releasing_minor + p.out_minor, left_minor = 0, updated_at = now()
    FROM jsonb_to_recordset($3::jsonb) AS p(case_id uuid, out_minor bigint)
    WHERE t.case_id = p.case_id AND t.bank_code = $1 AND t.account_number = $2
    RETURNING t.case_id, t.level, t.holder_name
), orders AS (
    INSERT INTO freeze_orders (case_id, order_id, kind, level, bank_code, account_number, holder_name,
                               currency, requested_minor, incoming, idempotency_key, params,
                               next_attempt_at)
    SELECT n.case_id, n.order_id, 'return', t.level, $1, $2, t.holder_name, c.currency,
           n.requested_minor, '[]'::jsonb, n.case_id::text || ':' || n.order_id::text, n.params,
           CASE WHEN $4 THEN stopay_now() ELSE 'infinity'::timestamptz END
    FROM jsonb_to_recordset($6::jsonb) AS n(case_id uuid, order_id uuid, requested_minor bigint, params jsonb)
    JOIN trail t ON t.case_id = n.case_id
    JOIN cases c ON c.case_id = n.case_id
    RETURNING order_id
), events AS (
    INSERT INTO case_events (case_id, actor, kind, detail)
    SELECT e.case_id, $8, e.kind,
           e.detail || jsonb_build_object('bank_code', $1::text,
                                          'due_at', (SELECT max(return_due_at) FROM moved))
    FROM jsonb_to_recordset($7::jsonb) AS e(case_id uuid, kind text, detail jsonb)
    RETURNING seq
)
SELECT (SELECT count(*) FROM moved) AS holds, (SELECT count(*) FROM orders) AS orders,
       (SELECT max(return_due_at) FROM moved) AS due_at

-- Starts the return of the money held on account :bank_code/:account_number. The caller holds the
-- locks of every case's trail row and hold there (account_trail_lock.sql, account_holds.sql) and of
-- their chain heads. The domain decided who pays what and when (domain.returns):
--   :paying the paying holds (store.holds.PayingHoldRow): each moves to 'returning'; out_minor goes out;
--   :notice_days after which its payments are due; :parked whether they wait for the sweeper's 'pay'
--   at the notice's end (next_attempt_at 'infinity', return_pay.sql) or go out now;
--   :orders the return orders (store.holds.ReturnOrderRow), each in its paying case;
--   :events the events (store.holds.CaseEventRow); :actor.
WITH moved AS (
    UPDATE holds h
    SET state = 'returning', return_due_at = stopay_now() + make_interval(days => :notice_days),
        return_paid_at = CASE WHEN :parked::bool THEN NULL ELSE stopay_now() END, updated_at = now()
    FROM jsonb_to_recordset(:paying::jsonb) AS p(case_id uuid, out_minor bigint)
    WHERE h.case_id = p.case_id AND h.bank_code = :bank_code AND h.account_number = :account_number
    RETURNING h.case_id, h.return_due_at
), trail AS (
    UPDATE trail_accounts t
    SET releasing_minor = t.releasing_minor + p.out_minor, left_minor = 0, updated_at = now()
    FROM jsonb_to_recordset(:paying::jsonb) AS p(case_id uuid, out_minor bigint)
    WHERE t.case_id = p.case_id AND t.bank_code = :bank_code AND t.account_number = :account_number
    RETURNING t.case_id, t.level, t.holder_name
), orders AS (
    INSERT INTO freeze_orders (case_id, order_id, kind, level, bank_code, account_number, holder_name,
                               currency, requested_minor, incoming, idempotency_key, params,
                               next_attempt_at)
    SELECT n.case_id, n.order_id, 'return', t.level, :bank_code, :account_number, t.holder_name, c.currency,
           n.requested_minor, '[]'::jsonb, n.case_id::text || ':' || n.order_id::text, n.params,
           CASE WHEN :parked::bool THEN 'infinity'::timestamptz ELSE stopay_now() END
    FROM jsonb_to_recordset(:orders::jsonb) AS n(case_id uuid, order_id uuid, requested_minor bigint, params jsonb)
    JOIN trail t ON t.case_id = n.case_id
    JOIN cases c ON c.case_id = n.case_id
    RETURNING order_id
), events AS (
    INSERT INTO case_events (case_id, actor, kind, detail)
    SELECT e.case_id, :actor, e.kind,
           e.detail || jsonb_build_object('bank_code', :bank_code::text,
                                          'due_at', (SELECT max(return_due_at) FROM moved))
    FROM jsonb_to_recordset(:events::jsonb) AS e(case_id uuid, kind text, detail jsonb)
    RETURNING seq
)
SELECT (SELECT count(*) FROM moved) AS holds, (SELECT count(*) FROM orders) AS orders,
       (SELECT max(return_due_at) FROM moved) AS due_at

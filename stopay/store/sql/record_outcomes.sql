-- Records a batch of outcomes for orders that owner $2 holds a lease on, with the bank's answers,
-- the case's holdings per account and the events, in one statement. $1 is a jsonb array of
-- outcomes; $3 the actor. An order another owner has taken over, or that has moved on already, is
-- left as it is.
WITH input AS (
    SELECT *
    FROM jsonb_to_recordset($1::jsonb) AS i(case_id uuid, order_id uuid, status text,
        held_minor bigint, reason_code text, detail text, answer_code text, balance_minor bigint,
        bank_reference text, statement jsonb)
), updated AS (
    UPDATE freeze_orders o
    SET status = i.status,
        held_minor = i.held_minor,
        reason_code = i.reason_code,
        detail = i.detail,
        resolved_at = CASE WHEN i.status IN ('queued', 'freezing', 'pending') THEN NULL ELSE now() END,
        lease_owner = NULL,
        lease_until = NULL
    FROM input i
    WHERE o.case_id = i.case_id AND o.order_id = i.order_id
      AND o.status IN ('queued', 'freezing') AND o.lease_owner = $2
    RETURNING o.case_id, o.order_id, o.bank_code, o.account_number, o.status, o.held_minor,
              o.freeze_minor, o.reason_code
), holdings AS (
    -- A freeze answered: its amount is no longer in flight, and what it holds is held.
    UPDATE trail_accounts t
    SET held_minor = t.held_minor + s.held,
        in_flight_minor = t.in_flight_minor - s.asked,
        updated_at = now()
    FROM (SELECT case_id, bank_code, account_number, sum(held_minor) AS held, sum(freeze_minor) AS asked
          FROM updated WHERE freeze_minor IS NOT NULL AND status <> 'pending'
          GROUP BY case_id, bank_code, account_number) s
    WHERE t.case_id = s.case_id AND t.bank_code = s.bank_code AND t.account_number = s.account_number
), answers AS (
    INSERT INTO bank_answers (case_id, order_id, status_code, held_minor, balance_minor,
                              reason_code, bank_reference, statement)
    SELECT i.case_id, i.order_id, i.answer_code, i.held_minor, i.balance_minor, i.reason_code,
           i.bank_reference, i.statement
    FROM input i JOIN updated u ON u.case_id = i.case_id AND u.order_id = i.order_id
    WHERE i.answer_code IS NOT NULL
), events AS (
    INSERT INTO case_events (case_id, actor, kind, order_id, detail)
    SELECT u.case_id, $3, 'order.' || u.status, u.order_id,
           jsonb_build_object('held_minor', u.held_minor, 'reason_code', u.reason_code,
                              'asked_minor', u.freeze_minor)
    FROM updated u
)
SELECT case_id, order_id FROM updated

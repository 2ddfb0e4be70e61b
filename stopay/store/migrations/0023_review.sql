-- stopay schema, version 23: review of large freezes (docs/rules.md, "Review of large freezes";
-- stopay.domain.review).
--
-- A freeze that would take a case past the deployment's thresholds (accounts asked to freeze at,
-- money held or in flight at once) waits in the order status 'awaiting_review', parked out of the
-- claims (next_attempt_at is 'infinity'), and so does every freeze of the case after it. The case's
-- review (case_reviews) is asked for once; a supervisor decides it for the whole case: 'approved'
-- sends the waiting freezes ('awaiting_review' -> 'queued' for a stop, 'freezing' for a freeze
-- order sized by its statement) and lets the case freeze on; 'declined' declines them and every
-- freeze sized after ('declined', final). reviewed_at is when an order's review let it go: its
-- delivery deadline counts from then, not from its creation.
--
-- "Unresolved" (freeze_order_unresolved) is open or waiting for a review: the check tying
-- resolved_at to the status, the guard that keeps a final order unchanged and the case's count of
-- orders still to settle ask it; the claims, leases and give-ups ask freeze_order_open, which a
-- waiting order is not.
CREATE FUNCTION freeze_order_unresolved(status text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN freeze_order_open(status) OR status = 'awaiting_review';

ALTER TABLE freeze_orders
    ADD COLUMN reviewed_at timestamptz,
    DROP CONSTRAINT freeze_orders_status_check,
    ADD CONSTRAINT freeze_orders_status_check CHECK (status IN ('queued', 'freezing', 'pending', 'held',
        'partially_held', 'moved_on', 'rejected', 'undeliverable', 'released', 'extended', 'returned',
        'awaiting_review', 'declined')),
    DROP CONSTRAINT freeze_orders_resolved_check,
    ADD CONSTRAINT freeze_orders_resolved_check CHECK (freeze_order_unresolved(status) = (resolved_at IS NULL)),
    DROP CONSTRAINT freeze_orders_kind_status_check,
    ADD CONSTRAINT freeze_orders_kind_status_check CHECK (CASE kind
        WHEN 'release' THEN status IN ('queued', 'released', 'rejected', 'undeliverable')
        WHEN 'extend' THEN status IN ('queued', 'extended', 'rejected', 'undeliverable')
        WHEN 'return' THEN status IN ('queued', 'returned', 'rejected', 'undeliverable')
        WHEN 'stop' THEN status NOT IN ('freezing', 'released', 'extended', 'returned')
        ELSE status NOT IN ('released', 'extended', 'returned') END),
    -- A waiting order is never due: it is parked until its review lets it go.
    ADD CONSTRAINT freeze_orders_waiting_parked CHECK (status <> 'awaiting_review' OR next_attempt_at = 'infinity');

INSERT INTO freeze_order_transitions (from_status, to_status) VALUES
    ('queued', 'awaiting_review'),
    ('awaiting_review', 'queued'),
    ('awaiting_review', 'freezing'),
    ('awaiting_review', 'declined'),
    ('queued', 'declined');

CREATE OR REPLACE FUNCTION freeze_orders_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.case_id <> OLD.case_id OR NEW.order_id <> OLD.order_id OR NEW.level <> OLD.level
       OR NEW.kind <> OLD.kind
       OR NEW.requested_minor <> OLD.requested_minor OR NEW.idempotency_key <> OLD.idempotency_key
       OR NEW.bank_code <> OLD.bank_code OR NEW.account_number <> OLD.account_number
       OR NEW.freeze_minor IS DISTINCT FROM OLD.freeze_minor AND OLD.freeze_minor IS NOT NULL
       OR NEW.reviewed_at IS DISTINCT FROM OLD.reviewed_at AND OLD.reviewed_at IS NOT NULL THEN
        RAISE EXCEPTION 'freeze order % is immutable but for its status and delivery', OLD.order_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.status <> OLD.status AND NOT EXISTS (
        SELECT 1 FROM freeze_order_transitions t
        WHERE t.from_status = OLD.status AND t.to_status = NEW.status) THEN
        RAISE EXCEPTION 'freeze order % cannot move from % to %', OLD.order_id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    -- Only a stop waits before it is first sent (approved, it is queued); a freeze order waits after
    -- its statement (approved, it is freezing): no order goes back to queued.
    IF NEW.status <> OLD.status AND (
           (OLD.status = 'awaiting_review' AND NEW.status = 'queued' AND OLD.kind <> 'stop')
        OR (OLD.status = 'awaiting_review' AND NEW.status = 'freezing' AND OLD.kind <> 'freeze')
        OR (OLD.status = 'queued' AND NEW.status IN ('awaiting_review', 'declined') AND OLD.kind <> 'freeze')) THEN
        RAISE EXCEPTION 'a freeze order of kind % cannot move from % to %', OLD.kind, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    IF NOT freeze_order_unresolved(OLD.status) AND NEW IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'freeze order % is settled (%) and cannot change', OLD.order_id, OLD.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

-- One review per case, asked for once. Its life moves on only: awaiting -> approved | declined,
-- and a decided review never changes; nothing is deleted. accounts and amount_minor are the case's
-- reach when it was asked for, max_accounts and max_amount_minor the thresholds then; request_id is
-- the decision's idempotency key.
CREATE TABLE case_reviews (
    case_id          uuid        PRIMARY KEY REFERENCES cases (case_id),
    state            text        NOT NULL DEFAULT 'awaiting' CHECK (state IN ('awaiting', 'approved', 'declined')),
    requested_at     timestamptz NOT NULL DEFAULT stopay_now(),
    accounts         integer     NOT NULL CHECK (accounts >= 0),
    amount_minor     bigint      NOT NULL CHECK (amount_minor >= 0),
    max_accounts     integer     NOT NULL CHECK (max_accounts > 0),
    max_amount_minor bigint      NOT NULL CHECK (max_amount_minor > 0),
    decided_by       text,
    decided_at       timestamptz,
    reasons          text,
    request_id       text        UNIQUE,
    CHECK ((state = 'awaiting') = (decided_by IS NULL AND decided_at IS NULL AND reasons IS NULL
                                   AND request_id IS NULL)),
    CHECK (state = 'awaiting' OR (decided_by <> '' AND reasons <> '' AND request_id <> ''))
);

CREATE FUNCTION case_reviews_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'the review of case % is kept', OLD.case_id USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.state <> 'awaiting' OR NEW.state NOT IN ('approved', 'declined')
       OR NEW.case_id <> OLD.case_id OR NEW.requested_at <> OLD.requested_at
       OR NEW.accounts <> OLD.accounts OR NEW.amount_minor <> OLD.amount_minor
       OR NEW.max_accounts <> OLD.max_accounts OR NEW.max_amount_minor <> OLD.max_amount_minor THEN
        RAISE EXCEPTION 'the review of case % cannot move from % to %', OLD.case_id, OLD.state, NEW.state
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER case_reviews_guard BEFORE UPDATE OR DELETE ON case_reviews
    FOR EACH ROW EXECUTE FUNCTION case_reviews_guard();
CREATE TRIGGER case_reviews_no_truncate BEFORE TRUNCATE ON case_reviews
    FOR EACH STATEMENT EXECUTE FUNCTION case_reviews_guard();

-- The reviews a supervisor still has to decide, oldest first.
CREATE INDEX case_reviews_awaiting ON case_reviews (requested_at) WHERE state = 'awaiting';

-- The case summary: orders waiting count as still to settle; the waiting ones, their money and the
-- case's review state are shown.
CREATE OR REPLACE VIEW case_summaries AS
SELECT c.case_id, c.entry_id, c.station_id, c.officer_id, c.report_no, c.victim_name,
       c.fraud_type, c.currency, c.reported_minor, c.created_at, c.rule, c.max_depth, c.min_amount,
       x.exited_minor, o.held_minor, o.order_count, o.open_orders, r.returned_minor,
       l.linked_minor, x.back_with_victim_minor, o.awaiting_orders, o.awaiting_minor,
       v.state AS review_state
FROM cases c
CROSS JOIN LATERAL (
    SELECT COALESCE(sum(held_minor - released_minor), 0)::bigint AS held_minor,
           count(*)::int AS order_count,
           count(*) FILTER (WHERE freeze_order_unresolved(status))::int AS open_orders,
           count(*) FILTER (WHERE status = 'awaiting_review')::int AS awaiting_orders,
           COALESCE(sum(freeze_minor) FILTER (WHERE status = 'awaiting_review'), 0)::bigint AS awaiting_minor
    FROM freeze_orders WHERE case_id = c.case_id
) o
CROSS JOIN LATERAL (
    SELECT COALESCE(sum(amount_minor) FILTER (WHERE exit_kind <> 'BACK_WITH_VICTIM'), 0)::bigint AS exited_minor,
           COALESCE(sum(amount_minor) FILTER (WHERE exit_kind = 'BACK_WITH_VICTIM'), 0)::bigint
               AS back_with_victim_minor
    FROM trail_exits WHERE case_id = c.case_id
) x
CROSS JOIN LATERAL (
    SELECT COALESCE(sum(released_minor), 0)::bigint AS returned_minor FROM freeze_orders
    WHERE kind = 'return' AND params ->> 'beneficiary_case' = c.case_id::text
) r
CROSS JOIN LATERAL (
    SELECT COALESCE(sum(amount_minor), 0)::bigint AS linked_minor FROM entry_transfers
    WHERE case_id = c.case_id AND linked_case_id IS NOT NULL
) l
LEFT JOIN case_reviews v ON v.case_id = c.case_id;

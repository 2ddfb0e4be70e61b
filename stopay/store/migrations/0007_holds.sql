-- stopay schema, version 7: the life of a hold, and the return of held money.
--
-- A hold is what one case holds on one account. It starts as an emergency stop when a freeze of the
-- case first holds money there, and lasts a stop period (48 hours by default); it may be renewed
-- while it lasts, up to max_stops periods in all (2 by default), or turned into a formal freeze
-- under a legal document (6 months, 1 year for a major case), which is renewed, each time under a
-- new document, before it lapses. A hold ends released (the account was found unrelated), lapsed
-- (nobody renewed it in time) or returned (its money went back to the victims). The allowed moves
-- are in hold_transitions; the trigger refuses every other one, and a hold never changes its key.
--
-- The bank hears of each step through an order of the case at the account: 'extend' (renew,
-- formalize), 'release' (unrelated, lapsed, or the excess over a freezing decision) and 'return'
-- (pay the money held to a victim). A return order is of the case whose hold pays; params names the
-- case whose victim is paid.
--
-- The hold lifecycle reads the clock through stopay_now(): now(), shifted by stopay_clock's one row
-- when there is one. Drills and tests move that row to see holds expire; a production database has
-- no row.

CREATE TABLE stopay_clock (
    one   boolean  PRIMARY KEY DEFAULT true CHECK (one),
    shift interval NOT NULL
);

CREATE FUNCTION stopay_now() RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT now() + coalesce((SELECT shift FROM stopay_clock), interval '0')
$$;

CREATE TABLE hold_transitions (
    from_state text NOT NULL,
    to_state   text NOT NULL,
    PRIMARY KEY (from_state, to_state)
);
INSERT INTO hold_transitions (from_state, to_state) VALUES
    ('stopped', 'stopped'), ('stopped', 'frozen'), ('stopped', 'released'), ('stopped', 'lapsed'),
    ('frozen', 'frozen'), ('frozen', 'released'), ('frozen', 'lapsed'), ('frozen', 'returning'),
    ('returning', 'returned');

CREATE TABLE holds (
    case_id         uuid        NOT NULL REFERENCES cases (case_id),
    bank_code       text        NOT NULL,
    account_number  text        NOT NULL,
    state           text        NOT NULL DEFAULT 'stopped' CHECK (state IN
                        ('stopped', 'frozen', 'released', 'lapsed', 'returning', 'returned')),
    -- Emergency stop periods so far (the first stop counts), and how many are allowed.
    stops           integer     NOT NULL DEFAULT 1,
    max_stops       integer     NOT NULL CHECK (max_stops >= 1),
    -- Formal freeze periods so far: the conversion counts, each renewal adds one.
    freezes         integer     NOT NULL DEFAULT 0 CHECK (freezes >= 0),
    major           boolean     NOT NULL DEFAULT false,
    -- The legal document of the formal freeze now in force: {number, approver, amount_minor, scope,
    -- interest_included}; null while an emergency stop.
    document        jsonb,
    stopped_at      timestamptz NOT NULL DEFAULT stopay_now(),
    expires_at      timestamptz NOT NULL,
    -- When the coming expiry was warned of (null: not yet, in this period).
    warned_at       timestamptz,
    -- A return's payments wait for its notice to end (a direct return's for nothing).
    return_due_at   timestamptz,
    return_paid_at  timestamptz,
    ended_at        timestamptz,
    end_reason      text        NOT NULL DEFAULT '',
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, bank_code, account_number),
    CHECK (stops >= 1 AND stops <= max_stops),
    CHECK (state <> 'stopped' OR document IS NULL),
    CHECK (state NOT IN ('frozen', 'returning', 'returned') OR document IS NOT NULL),
    CHECK ((state IN ('released', 'lapsed', 'returned')) = (ended_at IS NOT NULL))
);
-- The sweeper's view: live holds by expiry. And every hold on an account, across cases.
CREATE INDEX holds_live_by_expiry ON holds (expires_at) WHERE state IN ('stopped', 'frozen');
CREATE INDEX holds_by_account ON holds (bank_code, account_number);
CREATE INDEX trail_accounts_by_account ON trail_accounts (bank_code, account_number);
CREATE INDEX holds_returns_due ON holds (return_due_at) WHERE state = 'returning' AND return_paid_at IS NULL;

-- Each step asked of a hold, by the request_id its caller gave: a step sent again (a client's
-- retry) is recognised and not taken twice; the same id with other content is refused.
CREATE TABLE hold_requests (
    request_id     text        PRIMARY KEY,
    action         text        NOT NULL,
    payload_sha256 bytea       NOT NULL,
    result         jsonb,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION holds_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.case_id <> OLD.case_id OR NEW.bank_code <> OLD.bank_code
       OR NEW.account_number <> OLD.account_number OR NEW.max_stops <> OLD.max_stops
       OR NEW.stops < OLD.stops OR NEW.freezes < OLD.freezes OR NEW.stopped_at <> OLD.stopped_at THEN
        RAISE EXCEPTION 'hold of case % is immutable but for its state and periods', OLD.case_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.state <> OLD.state OR NEW.expires_at <> OLD.expires_at THEN
        IF NOT EXISTS (SELECT 1 FROM hold_transitions t
                       WHERE t.from_state = OLD.state AND t.to_state = NEW.state) THEN
            RAISE EXCEPTION 'hold of case % cannot move from % to %', OLD.case_id, OLD.state, NEW.state
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    -- An expiry only moves on; a stop is counted only by a renewal of a stop, a formal freeze period
    -- only by a move into a formal freeze.
    IF NEW.expires_at < OLD.expires_at
       OR (NEW.stops <> OLD.stops AND NOT (OLD.state = 'stopped' AND NEW.state = 'stopped'))
       OR (NEW.freezes <> OLD.freezes AND NEW.state <> 'frozen') THEN
        RAISE EXCEPTION 'hold of case %: its expiry and periods only move on with a renewal', OLD.case_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.state IN ('released', 'lapsed', 'returned') AND NEW IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'hold of case % has ended (%) and cannot change', OLD.case_id, OLD.state
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER holds_guard BEFORE UPDATE ON holds FOR EACH ROW EXECUTE FUNCTION holds_guard();
CREATE FUNCTION holds_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'holds are never deleted' USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER holds_no_delete BEFORE DELETE ON holds FOR EACH ROW EXECUTE FUNCTION holds_no_delete();
CREATE FUNCTION holds_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('stopay_case', NEW.case_id::text);
    RETURN NULL;
END $$;
CREATE TRIGGER holds_notify AFTER INSERT OR UPDATE ON holds FOR EACH ROW EXECUTE FUNCTION holds_notify();

-- A hold as its readers show it: with what the case holds on the account now (by the bank's
-- answers) and whether its expiry has passed by the hold lifecycle's clock.
CREATE VIEW hold_views AS
SELECT h.case_id, h.bank_code, h.account_number, h.state, h.stops, h.max_stops, h.freezes, h.major,
       h.document, h.stopped_at, h.expires_at, h.warned_at, h.return_due_at, h.return_paid_at,
       h.ended_at, h.end_reason, coalesce(t.held_minor, 0) AS held_minor, t.holder_name,
       h.expires_at <= stopay_now() AS expired
FROM holds h
LEFT JOIN trail_accounts t
       ON t.case_id = h.case_id AND t.bank_code = h.bank_code AND t.account_number = h.account_number;

-- Whether a hold is to be warned of now: live, not warned of in this period, and within its
-- warning time (stop_hours before an emergency stop ends, freeze_days before a formal freeze ends).
-- The sweeper's search and its locked step both ask this one question. A plain SQL function, so the
-- planner inlines it and still uses the expiry index.
CREATE FUNCTION hold_warn_due(state text, expires_at timestamptz, warned_at timestamptz, stop_hours int,
                              freeze_days int)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT state IN ('stopped', 'frozen') AND warned_at IS NULL AND expires_at > stopay_now()
       AND expires_at <= stopay_now() + CASE state WHEN 'stopped' THEN make_interval(hours => stop_hours)
                                                   ELSE make_interval(days => freeze_days) END
$$;

-- Orders of the hold's life. 'extend' ends 'extended'; 'return' ends 'returned' and keeps what it
-- paid in released_minor, as a release keeps what it gave back: either way the money left the hold.
ALTER TABLE freeze_orders
    ADD COLUMN params jsonb NOT NULL DEFAULT '{}',
    DROP CONSTRAINT freeze_orders_kind_check,
    ADD CONSTRAINT freeze_orders_kind_check CHECK (kind IN ('freeze', 'release', 'extend', 'return')),
    DROP CONSTRAINT freeze_orders_status_check,
    ADD CONSTRAINT freeze_orders_status_check CHECK (status IN
        ('queued', 'freezing', 'pending', 'held', 'partially_held', 'moved_on', 'rejected',
         'undeliverable', 'released', 'extended', 'returned')),
    DROP CONSTRAINT freeze_orders_kind_status_check,
    ADD CONSTRAINT freeze_orders_kind_status_check CHECK (CASE kind
        WHEN 'release' THEN status IN ('queued', 'released', 'rejected', 'undeliverable')
        WHEN 'extend' THEN status IN ('queued', 'extended', 'rejected', 'undeliverable')
        WHEN 'return' THEN status IN ('queued', 'returned', 'rejected', 'undeliverable')
        ELSE status NOT IN ('released', 'extended', 'returned') END),
    DROP CONSTRAINT freeze_orders_released_check,
    ADD CONSTRAINT freeze_orders_released_check CHECK (
        released_minor >= 0 AND released_minor <= requested_minor
        AND (kind IN ('release', 'return') OR released_minor = 0));

INSERT INTO freeze_order_transitions (from_status, to_status) VALUES
    ('queued', 'extended'), ('queued', 'returned');

-- Return orders by the case whose victim they pay.
CREATE INDEX freeze_orders_returns_to ON freeze_orders ((params ->> 'beneficiary_case'))
    WHERE kind = 'return';

-- "Reported", "held", "returned" and "exited" are separate figures on every case.
DROP VIEW case_summaries;
CREATE VIEW case_summaries AS
SELECT c.case_id, c.entry_id, c.station_id, c.officer_id, c.report_no, c.victim_name,
       c.fraud_type, c.currency, c.reported_minor, c.created_at, c.rule, c.max_depth, c.min_amount,
       x.exited_minor, o.held_minor, o.order_count, o.open_orders, r.returned_minor
FROM cases c
CROSS JOIN LATERAL (
    SELECT COALESCE(sum(held_minor - released_minor), 0)::bigint AS held_minor,
           count(*)::int AS order_count,
           count(*) FILTER (WHERE status IN ('queued', 'freezing', 'pending'))::int AS open_orders
    FROM freeze_orders WHERE case_id = c.case_id
) o
CROSS JOIN LATERAL (
    SELECT COALESCE(sum(amount_minor), 0)::bigint AS exited_minor FROM trail_exits WHERE case_id = c.case_id
) x
CROSS JOIN LATERAL (
    SELECT COALESCE(sum(released_minor), 0)::bigint AS returned_minor FROM freeze_orders
    WHERE kind = 'return' AND params ->> 'beneficiary_case' = c.case_id::text
) r;

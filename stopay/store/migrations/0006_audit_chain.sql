-- stopay schema, version 6: a tamper-evident audit trail.
-- Each case's events form a SHA-256 hash chain; case_chain_heads keeps each chain's end. The chains
-- are per case, so writers of different cases never wait on each other, and a case's chain lives
-- with its rows when they are distributed by case_id.
--
-- The chain. A case's events, in chain order (chain_pos = 1, 2, 3, ...), are linked by
--     prev_hash(1) = 32 zero bytes
--     prev_hash(n) = hash(n - 1)
--     hash(n)      = SHA-256(prev_hash(n) || UTF-8 bytes of canonical(n))
-- canonical(n) is the text of a jsonb array (case_event_canonical below):
--     [case_id, chain_pos, seq, at, actor, kind, order_id, detail]
--   * case_id, order_id: the uuid's text, lower-case with hyphens; order_id is null when absent;
--   * chain_pos, seq: integers;
--   * at: to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
--     e.g. "2024-05-01T08:30:00.000123Z";
--   * actor, kind: strings;
--   * detail: the jsonb value itself.
-- The text is jsonb's own output, which is canonical: object keys sorted by length, then bytewise,
-- without duplicates; ", " between items and ": " after keys; strings escape only '"', '\' and
-- control characters (\b \f \n \r \t, else \u00XX, lower-case hex), everything else raw UTF-8;
-- numbers in plain decimal notation as PostgreSQL's numeric writes them (1e2 -> 100, -0.0 -> 0.0).
-- stopay/store/audit.py reproduces this encoding in Python and recomputes the chains.
--
-- Writing. A BEFORE INSERT trigger locks the case's head row (creating it if missing), then takes
-- the event's seq (so seq grows along every chain, in the order the events commit), its chain_pos,
-- prev_hash and hash, and moves the head on. The head lock serializes the writers of one case, so a
-- chain never forks; (case_id, chain_pos) is unique besides. A transaction that writes events of
-- several cases locks their heads first, in case_id order (store/sql/chain_lock.sql,
-- reschedule_orders.sql), so writers never deadlock. The trigger stamps `at` with the database
-- clock after taking the lock (whatever the writer gave), so within a case time order is chain
-- order, and the hash covers it.
--
-- Events written before this migration are chained here in (case_id, seq) order.

ALTER TABLE case_events
    ADD COLUMN chain_pos bigint,
    ADD COLUMN prev_hash bytea,
    ADD COLUMN hash      bytea;

CREATE TABLE case_chain_heads (
    case_id uuid   PRIMARY KEY REFERENCES cases (case_id),
    seq     bigint NOT NULL DEFAULT 0,                      -- the last event's seq (0: no event yet)
    hash    bytea  NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000'
                   CHECK (octet_length(hash) = 32),         -- the last event's hash
    events  bigint NOT NULL DEFAULT 0 CHECK (events >= 0)   -- events in the chain = last chain_pos
);

CREATE FUNCTION case_event_canonical(case_id uuid, chain_pos bigint, seq bigint, at timestamptz,
                                     actor text, kind text, order_id uuid, detail jsonb)
RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT jsonb_build_array(case_id::text, chain_pos, seq,
                             to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                             actor, kind, order_id::text, detail)::text
$$;

CREATE FUNCTION case_event_hash(prev_hash bytea, case_id uuid, chain_pos bigint, seq bigint,
                                at timestamptz, actor text, kind text, order_id uuid, detail jsonb)
RETURNS bytea LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT sha256(prev_hash || convert_to(
        case_event_canonical(case_id, chain_pos, seq, at, actor, kind, order_id, detail), 'UTF8'))
$$;

-- Locks the head of a case's chain for the rest of the transaction, creating it if missing.
CREATE FUNCTION case_chain_lock(p_case_id uuid) RETURNS case_chain_heads LANGUAGE plpgsql AS $$
DECLARE
    head case_chain_heads;
BEGIN
    SELECT * INTO head FROM case_chain_heads WHERE case_id = p_case_id FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO case_chain_heads (case_id) VALUES (p_case_id) ON CONFLICT (case_id) DO NOTHING;
        SELECT * INTO STRICT head FROM case_chain_heads WHERE case_id = p_case_id FOR UPDATE;
    END IF;
    RETURN head;
END $$;

-- Chain the events already written, case by case, in seq order.
ALTER TABLE case_events DISABLE TRIGGER case_events_append_only;
DO $$
DECLARE
    e        record;
    cur      uuid;
    prev     bytea;
    pos      bigint;
    last_seq bigint;
BEGIN
    FOR e IN SELECT case_id, seq, at, actor, kind, order_id, detail FROM case_events ORDER BY case_id, seq LOOP
        IF cur IS DISTINCT FROM e.case_id THEN
            IF cur IS NOT NULL THEN
                INSERT INTO case_chain_heads (case_id, seq, hash, events) VALUES (cur, last_seq, prev, pos);
            END IF;
            cur := e.case_id;
            prev := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
            pos := 0;
        END IF;
        pos := pos + 1;
        UPDATE case_events
        SET chain_pos = pos, prev_hash = prev,
            hash = case_event_hash(prev, e.case_id, pos, e.seq, e.at, e.actor, e.kind, e.order_id, e.detail)
        WHERE case_id = e.case_id AND seq = e.seq
        RETURNING hash INTO prev;
        last_seq := e.seq;
    END LOOP;
    IF cur IS NOT NULL THEN
        INSERT INTO case_chain_heads (case_id, seq, hash, events) VALUES (cur, last_seq, prev, pos);
    END IF;
END $$;
ALTER TABLE case_events ENABLE TRIGGER case_events_append_only;
INSERT INTO case_chain_heads (case_id) SELECT case_id FROM cases ON CONFLICT (case_id) DO NOTHING;

ALTER TABLE case_events
    ALTER COLUMN chain_pos SET NOT NULL,
    ALTER COLUMN prev_hash SET NOT NULL,
    ALTER COLUMN hash SET NOT NULL,
    ADD CONSTRAINT case_events_chain_pos_key UNIQUE (case_id, chain_pos),
    ADD CONSTRAINT case_events_hash_check CHECK (octet_length(hash) = 32 AND octet_length(prev_hash) = 32);

CREATE FUNCTION case_events_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head case_chain_heads;
BEGIN
    head := case_chain_lock(NEW.case_id);
    -- Taken under the head lock: along a chain, seq grows in the order the events commit.
    NEW.seq := nextval(pg_get_serial_sequence('case_events', 'seq'));
    -- Stamped after the lock too, so that within a case time order is chain order.
    NEW.at := clock_timestamp();
    NEW.chain_pos := head.events + 1;
    NEW.prev_hash := head.hash;
    NEW.hash := case_event_hash(NEW.prev_hash, NEW.case_id, NEW.chain_pos, NEW.seq, NEW.at, NEW.actor,
                                NEW.kind, NEW.order_id, NEW.detail);
    UPDATE case_chain_heads SET seq = NEW.seq, hash = NEW.hash, events = NEW.chain_pos
    WHERE case_id = NEW.case_id;
    RETURN NEW;
END $$;
CREATE TRIGGER case_events_chain BEFORE INSERT ON case_events
    FOR EACH ROW EXECUTE FUNCTION case_events_chain();

-- Heads move only one event forward at a time, from within the chain trigger; they are created
-- empty and never deleted.
CREATE FUNCTION case_chain_heads_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.seq = 0 AND NEW.events = 0
           AND NEW.hash = '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea THEN
            RETURN NEW;
        END IF;
    ELSIF TG_OP = 'UPDATE' THEN
        IF pg_trigger_depth() > 1 AND NEW.case_id = OLD.case_id AND NEW.events = OLD.events + 1 THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'case_chain_heads only moves with the events of its case'
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER case_chain_heads_guard BEFORE INSERT OR UPDATE OR DELETE ON case_chain_heads
    FOR EACH ROW EXECUTE FUNCTION case_chain_heads_guard();
CREATE TRIGGER case_chain_heads_no_truncate BEFORE TRUNCATE ON case_chain_heads
    FOR EACH STATEMENT EXECUTE FUNCTION case_chain_heads_guard();

-- Exports and reports select events by time.
CREATE INDEX case_events_by_time ON case_events (at);

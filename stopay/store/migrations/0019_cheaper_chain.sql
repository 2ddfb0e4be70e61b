-- stopay schema, version 19: fewer statements per event in the hash chain's trigger, orders whose
-- writer wakes the dispatchers itself after its commit, and a clock and a check that are not
-- parsed or planned again at every call. The chain (0006) and what verifies it do not change:
-- the same columns get the same values under the same lock.
--
-- The chain trigger ran six statements for an entry's two events: for the case's first event, a
-- SELECT ... FOR UPDATE that found no head, an INSERT of an empty head, the SELECT ... FOR UPDATE
-- again, and the UPDATE moving the head on; then a SELECT ... FOR UPDATE and an UPDATE for the
-- second. Its share of a SubmitEntry's time in PostgreSQL was about a fifth. Now a case's first
-- event creates the head already at that event, in one INSERT: four statements for the two
-- events. Every later event is written as before (lock the head, link, move the head on).
--
-- Why the first event's seq may be taken before its INSERT (seq grows along each chain in the order
-- the events commit): nothing comes before the first event in its chain, and any other writer of
-- the case waits for this transaction on the new head row (its INSERT on the unique key, or its
-- SELECT ... FOR UPDATE once the row is visible), then takes its own seq. When two transactions
-- race to write a case's first event, the second's INSERT finds the first's head, does nothing,
-- and that event is then written as a later one, under the lock, with a new seq.
--
-- The head's guard lets such an INSERT through only from within a trigger (the chain's), as it
-- does for the UPDATE that moves a head on; an empty head (seq 0, no events, the zero hash) may
-- still be created directly, by case_chain_lock, which writers of several cases call to lock their
-- heads in order.
--
-- The event's seq comes from the identity sequence of case_events, named once here instead of
-- looked up in the catalog (pg_get_serial_sequence) at every event.
--
-- freeze_orders_notify (0002) notified inside the writing transaction. PostgreSQL serializes every
-- transaction that notifies on one lock, held until its commit is flushed to disk, so the entries
-- stored at once committed one flush after another instead of sharing flushes. A writer may now
-- take on waking the listeners itself, once it has committed: it sets stopay.wake_after_commit to
-- 'on' for its transaction (set_config(..., true)), and the trigger then leaves that
-- transaction's orders to it. submit_entry.sql does (store/notifications.py sends one NOTIFY for
-- many entries, after their answers). Every other writer notifies as before.
--
-- stopay_now() (0007, 0010) was a SQL function that PostgreSQL cannot inline (it reads
-- stopay_clock in a subquery), so its body was parsed and planned anew in every statement calling
-- it: twice for each order an entry opens, through the defaults of freeze_orders. As PL/pgSQL, its
-- plan is kept for the session. What it returns is unchanged.

-- freeze_order_open (0016) is inlined wherever it is called, as before; but a check constraint is
-- made ready again in every statement that writes its table, and inlining a function whose body is
-- a string parses that string. freeze_orders_resolved_check asks freeze_order_open, so every
-- statement writing orders parsed it. A body written with RETURN is kept parsed (PostgreSQL 14).
-- The expression and its result are unchanged, so the index built on it (freeze_orders_due) stays
-- valid.
CREATE OR REPLACE FUNCTION freeze_order_open(status text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN status IN ('queued', 'freezing', 'pending');

CREATE OR REPLACE FUNCTION stopay_now() RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN now() + coalesce((SELECT shift FROM stopay_clock), interval '0');
END $$;

CREATE OR REPLACE FUNCTION freeze_orders_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The writer wakes the listeners itself once it has committed (see above).
    IF current_setting('stopay.wake_after_commit', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF NEW.status IN ('queued', 'freezing') AND (TG_OP = 'INSERT' OR OLD.status <> NEW.status) THEN
        PERFORM pg_notify('stopay_orders', '');
    END IF;
    PERFORM pg_notify('stopay_case', NEW.case_id::text);
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION case_chain_heads_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.seq = 0 AND NEW.events = 0
           AND NEW.hash = '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea THEN
            RETURN NEW;
        END IF;
        -- A case's first event, from within the chain trigger: the head is created at that event.
        IF pg_trigger_depth() > 1 AND NEW.events = 1 THEN
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

-- Written with format() to name the schema (as 0015 does) and the sequence; CREATE OR REPLACE
-- keeps the function's grants but not SECURITY DEFINER or its search_path, so both are given again.
DO $$
BEGIN
    EXECUTE format($f$
CREATE OR REPLACE FUNCTION case_events_chain() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = %1$I, pg_temp AS $body$
DECLARE
    head case_chain_heads;
BEGIN
    SELECT * INTO head FROM case_chain_heads WHERE case_id = NEW.case_id FOR UPDATE;
    IF NOT FOUND THEN
        -- The case's first event: the head is created at it (migration 0019 says why its seq may
        -- be taken first).
        NEW.seq := nextval(%2$L::regclass);
        NEW.at := clock_timestamp();
        NEW.chain_pos := 1;
        NEW.prev_hash := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
        NEW.hash := case_event_hash(NEW.prev_hash, NEW.case_id, NEW.chain_pos, NEW.seq, NEW.at, NEW.actor,
                                    NEW.kind, NEW.order_id, NEW.detail);
        INSERT INTO case_chain_heads (case_id, seq, hash, events) VALUES (NEW.case_id, NEW.seq, NEW.hash, 1)
        ON CONFLICT (case_id) DO NOTHING;
        IF FOUND THEN
            RETURN NEW;
        END IF;
        -- Another transaction created the head first: this event comes after that one's.
        SELECT * INTO STRICT head FROM case_chain_heads WHERE case_id = NEW.case_id FOR UPDATE;
    END IF;
    -- Taken under the head lock: along a chain, seq grows in the order the events commit.
    NEW.seq := nextval(%2$L::regclass);
    -- Stamped after the lock too, so that within a case time order is chain order.
    NEW.at := clock_timestamp();
    NEW.chain_pos := head.events + 1;
    NEW.prev_hash := head.hash;
    NEW.hash := case_event_hash(NEW.prev_hash, NEW.case_id, NEW.chain_pos, NEW.seq, NEW.at, NEW.actor,
                                NEW.kind, NEW.order_id, NEW.detail);
    UPDATE case_chain_heads SET seq = NEW.seq, hash = NEW.hash, events = NEW.chain_pos
    WHERE case_id = NEW.case_id;
    RETURN NEW;
END $body$
$f$, current_schema(), pg_get_serial_sequence('case_events', 'seq'));
END $$;

-- The stopay schema after migration 0024_objection_release_part: what the migrations in
-- stopay/store/migrations produce, read back from a fresh database. Generated, never edited:
-- after adding a migration, run `python -m stopay.store.schema`.

-- Tables

CREATE TABLE audit_checkpoints (
    checkpoint_id   bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
    taken_at        timestamp with time zone NOT NULL,
    key_fingerprint text NOT NULL,
    root_hash       text NOT NULL,
    heads           jsonb NOT NULL,
    signature       bytea NOT NULL,
    recorded_at     timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT audit_checkpoints_pkey PRIMARY KEY (checkpoint_id),
    CONSTRAINT audit_checkpoints_heads_check CHECK ((jsonb_typeof(heads) = 'array'::text)),
    CONSTRAINT audit_checkpoints_key_fingerprint_check CHECK ((key_fingerprint ~ '^[0-9a-f]{64}$'::text)),
    CONSTRAINT audit_checkpoints_root_hash_check CHECK ((root_hash ~ '^[0-9a-f]{64}$'::text)),
    CONSTRAINT audit_checkpoints_signature_check CHECK ((octet_length(signature) = 64))
);

CREATE TABLE bank_answers (
    case_id        uuid NOT NULL,
    order_id       uuid NOT NULL,
    answer_no      bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
    received_at    timestamp with time zone NOT NULL DEFAULT now(),
    status_code    text NOT NULL,
    held_minor     bigint NOT NULL,
    balance_minor  bigint,
    reason_code    text NOT NULL DEFAULT ''::text,
    bank_reference text NOT NULL DEFAULT ''::text,
    statement      jsonb,
    CONSTRAINT bank_answers_pkey PRIMARY KEY (case_id, order_id, answer_no),
    CONSTRAINT bank_answers_case_id_order_id_fkey FOREIGN KEY (case_id, order_id) REFERENCES freeze_orders(case_id, order_id),
    CONSTRAINT bank_answers_held_minor_check CHECK ((held_minor >= 0))
);

CREATE TABLE case_chain_heads (
    case_id uuid NOT NULL,
    seq     bigint NOT NULL DEFAULT 0,
    hash    bytea NOT NULL DEFAULT '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea,
    events  bigint NOT NULL DEFAULT 0,
    CONSTRAINT case_chain_heads_pkey PRIMARY KEY (case_id),
    CONSTRAINT case_chain_heads_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(case_id),
    CONSTRAINT case_chain_heads_events_check CHECK ((events >= 0)),
    CONSTRAINT case_chain_heads_hash_check CHECK ((octet_length(hash) = 32))
);

CREATE TABLE case_events (
    case_id   uuid NOT NULL,
    seq       bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
    at        timestamp with time zone NOT NULL DEFAULT clock_timestamp(),
    actor     text NOT NULL,
    kind      text NOT NULL,
    order_id  uuid,
    detail    jsonb NOT NULL DEFAULT '{}'::jsonb,
    chain_pos bigint NOT NULL,
    prev_hash bytea NOT NULL,
    hash      bytea NOT NULL,
    CONSTRAINT case_events_pkey PRIMARY KEY (case_id, seq),
    CONSTRAINT case_events_chain_pos_key UNIQUE (case_id, chain_pos),
    CONSTRAINT case_events_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(case_id),
    CONSTRAINT case_events_hash_check CHECK (((octet_length(hash) = 32) AND (octet_length(prev_hash) = 32)))
);

CREATE TABLE case_reviews (
    case_id          uuid NOT NULL,
    state            text NOT NULL DEFAULT 'awaiting'::text,
    requested_at     timestamp with time zone NOT NULL DEFAULT stopay_now(),
    accounts         integer NOT NULL,
    amount_minor     bigint NOT NULL,
    max_accounts     integer NOT NULL,
    max_amount_minor bigint NOT NULL,
    decided_by       text,
    decided_at       timestamp with time zone,
    reasons          text,
    request_id       text,
    CONSTRAINT case_reviews_pkey PRIMARY KEY (case_id),
    CONSTRAINT case_reviews_request_id_key UNIQUE (request_id),
    CONSTRAINT case_reviews_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(case_id),
    CONSTRAINT case_reviews_accounts_check CHECK ((accounts >= 0)),
    CONSTRAINT case_reviews_amount_minor_check CHECK ((amount_minor >= 0)),
    CONSTRAINT case_reviews_check CHECK (((state = 'awaiting'::text) = ((decided_by IS NULL) AND (decided_at IS NULL) AND (reasons IS NULL) AND (request_id IS NULL)))),
    CONSTRAINT case_reviews_check1 CHECK (((state = 'awaiting'::text) OR ((decided_by <> ''::text) AND (reasons <> ''::text) AND (request_id <> ''::text)))),
    CONSTRAINT case_reviews_max_accounts_check CHECK ((max_accounts > 0)),
    CONSTRAINT case_reviews_max_amount_minor_check CHECK ((max_amount_minor > 0)),
    CONSTRAINT case_reviews_state_check CHECK ((state = ANY (ARRAY['awaiting'::text, 'approved'::text, 'declined'::text])))
);

CREATE TABLE cases (
    case_id          uuid NOT NULL,
    entry_id         text NOT NULL,
    payload_sha256   bytea NOT NULL,
    station_id       text NOT NULL,
    officer_id       text NOT NULL,
    report_no        text NOT NULL,
    victim_name      text NOT NULL,
    victim_id_number text NOT NULL DEFAULT ''::text,
    victim_phone     text NOT NULL DEFAULT ''::text,
    fraud_type       integer NOT NULL DEFAULT 0,
    narrative        text NOT NULL DEFAULT ''::text,
    currency         character(3) NOT NULL,
    reported_minor   bigint NOT NULL,
    created_at       timestamp with time zone NOT NULL DEFAULT now(),
    rule             text NOT NULL DEFAULT 'libr'::text,
    max_depth        integer NOT NULL DEFAULT 5,
    min_amount       bigint NOT NULL DEFAULT 10000,
    CONSTRAINT cases_pkey PRIMARY KEY (case_id),
    CONSTRAINT cases_max_depth_check CHECK (((max_depth >= 1) AND (max_depth <= 50))),
    CONSTRAINT cases_min_amount_check CHECK ((min_amount >= 0)),
    CONSTRAINT cases_reported_minor_check CHECK ((reported_minor > 0)),
    CONSTRAINT cases_rule_check CHECK ((rule = ANY (ARRAY['fifo'::text, 'lifo'::text, 'pro_rata'::text, 'libr'::text, 'taint_first'::text])))
);

CREATE TABLE dispatch_replicas (
    owner       text NOT NULL,
    bank_codes  text[] NOT NULL,
    started_at  timestamp with time zone NOT NULL DEFAULT now(),
    alive_until timestamp with time zone NOT NULL,
    CONSTRAINT dispatch_replicas_pkey PRIMARY KEY (owner)
);

CREATE TABLE entry_transfers (
    case_id        uuid NOT NULL,
    ordinal        integer NOT NULL,
    txn_id         text NOT NULL,
    payer_bank     text NOT NULL,
    payer_number   text NOT NULL,
    payer_holder   text NOT NULL,
    payee_bank     text NOT NULL,
    payee_number   text NOT NULL,
    payee_holder   text NOT NULL,
    amount_minor   bigint NOT NULL,
    currency       character(3) NOT NULL,
    transferred_at timestamp with time zone NOT NULL,
    channel        text NOT NULL DEFAULT ''::text,
    linked_case_id uuid,
    CONSTRAINT entry_transfers_pkey PRIMARY KEY (case_id, ordinal),
    CONSTRAINT entry_transfers_case_id_txn_id_key UNIQUE (case_id, txn_id),
    CONSTRAINT entry_transfers_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(case_id),
    CONSTRAINT entry_transfers_linked_case_id_fkey FOREIGN KEY (linked_case_id) REFERENCES cases(case_id),
    CONSTRAINT entry_transfers_amount_minor_check CHECK ((amount_minor > 0))
);

CREATE TABLE freeze_order_transitions (
    from_status text NOT NULL,
    to_status   text NOT NULL,
    CONSTRAINT freeze_order_transitions_pkey PRIMARY KEY (from_status, to_status)
);

CREATE TABLE freeze_orders (
    case_id         uuid NOT NULL,
    order_id        uuid NOT NULL,
    parent_order_id uuid,
    level           integer NOT NULL,
    bank_code       text NOT NULL,
    account_number  text NOT NULL,
    holder_name     text NOT NULL,
    currency        character(3) NOT NULL,
    requested_minor bigint NOT NULL,
    held_minor      bigint NOT NULL DEFAULT 0,
    incoming        jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'queued'::text,
    reason_code     text NOT NULL DEFAULT ''::text,
    detail          text NOT NULL DEFAULT ''::text,
    idempotency_key text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamp with time zone NOT NULL DEFAULT stopay_now(),
    lease_owner     text,
    lease_until     timestamp with time zone,
    created_at      timestamp with time zone NOT NULL DEFAULT stopay_now(),
    resolved_at     timestamp with time zone,
    freeze_minor    bigint,
    kind            text NOT NULL DEFAULT 'freeze'::text,
    released_minor  bigint NOT NULL DEFAULT 0,
    retry_of        uuid,
    params          jsonb NOT NULL DEFAULT '{}'::jsonb,
    reviewed_at     timestamp with time zone,
    CONSTRAINT freeze_orders_pkey PRIMARY KEY (case_id, order_id),
    CONSTRAINT freeze_orders_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(case_id),
    CONSTRAINT freeze_orders_check2 CHECK (((status = ANY (ARRAY['held'::text, 'partially_held'::text])) OR (held_minor = 0))),
    CONSTRAINT freeze_orders_freeze_minor_check CHECK ((freeze_minor > 0)),
    CONSTRAINT freeze_orders_held_check CHECK (((held_minor >= 0) AND (held_minor <= COALESCE(freeze_minor, (0)::bigint)))),
    CONSTRAINT freeze_orders_kind_check CHECK ((kind = ANY (ARRAY['freeze'::text, 'stop'::text, 'release'::text, 'extend'::text, 'return'::text]))),
    CONSTRAINT freeze_orders_kind_status_check CHECK (
CASE kind
    WHEN 'release'::text THEN (status = ANY (ARRAY['queued'::text, 'released'::text, 'rejected'::text, 'undeliverable'::text]))
    WHEN 'extend'::text THEN (status = ANY (ARRAY['queued'::text, 'extended'::text, 'rejected'::text, 'undeliverable'::text]))
    WHEN 'return'::text THEN (status = ANY (ARRAY['queued'::text, 'returned'::text, 'rejected'::text, 'undeliverable'::text]))
    WHEN 'stop'::text THEN (status <> ALL (ARRAY['freezing'::text, 'released'::text, 'extended'::text, 'returned'::text]))
    ELSE (status <> ALL (ARRAY['released'::text, 'extended'::text, 'returned'::text]))
END),
    CONSTRAINT freeze_orders_level_check CHECK ((level >= 1)),
    CONSTRAINT freeze_orders_released_check CHECK (((released_minor >= 0) AND (released_minor <= requested_minor) AND ((kind = ANY (ARRAY['release'::text, 'return'::text])) OR (released_minor = 0)))),
    CONSTRAINT freeze_orders_requested_minor_check CHECK ((requested_minor >= 0)),
    CONSTRAINT freeze_orders_resolved_check CHECK ((freeze_order_unresolved(status) = (resolved_at IS NULL))),
    CONSTRAINT freeze_orders_sized_check CHECK (((status <> 'freezing'::text) OR (freeze_minor IS NOT NULL))),
    CONSTRAINT freeze_orders_status_check CHECK ((status = ANY (ARRAY['queued'::text, 'freezing'::text, 'pending'::text, 'held'::text, 'partially_held'::text, 'moved_on'::text, 'rejected'::text, 'undeliverable'::text, 'released'::text, 'extended'::text, 'returned'::text, 'awaiting_review'::text, 'declined'::text]))),
    CONSTRAINT freeze_orders_stop_sized CHECK (((kind <> 'stop'::text) OR (freeze_minor = requested_minor))),
    CONSTRAINT freeze_orders_waiting_parked CHECK (((status <> 'awaiting_review'::text) OR (next_attempt_at = 'infinity'::timestamp with time zone)))
);

CREATE TABLE hold_approvals (
    approval_id        uuid NOT NULL,
    action             text NOT NULL,
    case_id            uuid,
    bank_code          text NOT NULL,
    account_number     text NOT NULL,
    basis              jsonb NOT NULL,
    document           jsonb,
    major              boolean NOT NULL DEFAULT false,
    reason             text NOT NULL,
    request_id         text NOT NULL,
    requested_by       text NOT NULL,
    requested_at       timestamp with time zone NOT NULL DEFAULT stopay_now(),
    status             text NOT NULL DEFAULT 'requested'::text,
    approved_by        text,
    approved_reason    text,
    approve_request_id text,
    approved_at        timestamp with time zone,
    CONSTRAINT hold_approvals_pkey PRIMARY KEY (approval_id),
    CONSTRAINT hold_approvals_approve_request_id_key UNIQUE (approve_request_id),
    CONSTRAINT hold_approvals_request_id_key UNIQUE (request_id),
    CONSTRAINT hold_approvals_approve_request_id_fkey FOREIGN KEY (approve_request_id) REFERENCES hold_requests(request_id),
    CONSTRAINT hold_approvals_case_id_bank_code_account_number_fkey FOREIGN KEY (case_id, bank_code, account_number) REFERENCES holds(case_id, bank_code, account_number),
    CONSTRAINT hold_approvals_request_id_fkey FOREIGN KEY (request_id) REFERENCES hold_requests(request_id),
    CONSTRAINT hold_approvals_action_check CHECK ((action = ANY (ARRAY['formalize'::text, 'return'::text]))),
    CONSTRAINT hold_approvals_check CHECK (((action = 'formalize'::text) = ((case_id IS NOT NULL) AND (document IS NOT NULL)))),
    CONSTRAINT hold_approvals_check1 CHECK (((status = 'approved'::text) = ((approved_by IS NOT NULL) AND (approved_reason IS NOT NULL) AND (approve_request_id IS NOT NULL) AND (approved_at IS NOT NULL)))),
    CONSTRAINT hold_approvals_check2 CHECK ((approved_by IS DISTINCT FROM requested_by)),
    CONSTRAINT hold_approvals_status_check CHECK ((status = ANY (ARRAY['requested'::text, 'approved'::text])))
);

CREATE TABLE hold_requests (
    request_id     text NOT NULL,
    action         text NOT NULL,
    payload_sha256 bytea NOT NULL,
    result         jsonb,
    created_at     timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT hold_requests_pkey PRIMARY KEY (request_id)
);

CREATE TABLE hold_transitions (
    from_state text NOT NULL,
    to_state   text NOT NULL,
    CONSTRAINT hold_transitions_pkey PRIMARY KEY (from_state, to_state)
);

CREATE TABLE holds (
    case_id        uuid NOT NULL,
    bank_code      text NOT NULL,
    account_number text NOT NULL,
    state          text NOT NULL DEFAULT 'stopped'::text,
    stops          integer NOT NULL DEFAULT 1,
    max_stops      integer NOT NULL,
    freezes        integer NOT NULL DEFAULT 0,
    major          boolean NOT NULL DEFAULT false,
    document       jsonb,
    stopped_at     timestamp with time zone NOT NULL DEFAULT stopay_now(),
    expires_at     timestamp with time zone NOT NULL,
    warned_at      timestamp with time zone,
    return_due_at  timestamp with time zone,
    return_paid_at timestamp with time zone,
    ended_at       timestamp with time zone,
    end_reason     text NOT NULL DEFAULT ''::text,
    updated_at     timestamp with time zone NOT NULL DEFAULT now(),
    limit_minor    bigint,
    CONSTRAINT holds_pkey PRIMARY KEY (case_id, bank_code, account_number),
    CONSTRAINT holds_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(case_id),
    CONSTRAINT holds_check CHECK (((stops >= 1) AND (stops <= max_stops))),
    CONSTRAINT holds_check1 CHECK (((state <> 'stopped'::text) OR (document IS NULL))),
    CONSTRAINT holds_check2 CHECK (((state <> ALL (ARRAY['frozen'::text, 'returning'::text, 'returned'::text])) OR (document IS NOT NULL))),
    CONSTRAINT holds_check3 CHECK (((state = ANY (ARRAY['released'::text, 'lapsed'::text, 'returned'::text])) = (ended_at IS NOT NULL))),
    CONSTRAINT holds_freezes_check CHECK ((freezes >= 0)),
    CONSTRAINT holds_limit_minor_check CHECK ((limit_minor > 0)),
    CONSTRAINT holds_max_stops_check CHECK ((max_stops >= 1)),
    CONSTRAINT holds_state_check CHECK ((state = ANY (ARRAY['stopped'::text, 'frozen'::text, 'released'::text, 'lapsed'::text, 'returning'::text, 'returned'::text])))
);

CREATE TABLE objections (
    objection_id   uuid NOT NULL,
    case_id        uuid NOT NULL,
    bank_code      text NOT NULL,
    account_number text NOT NULL,
    holder_name    text NOT NULL,
    via            text NOT NULL,
    taken_by       text NOT NULL,
    grounds        text NOT NULL,
    documents      jsonb NOT NULL DEFAULT '[]'::jsonb,
    request_id     text NOT NULL,
    filed_at       timestamp with time zone NOT NULL DEFAULT stopay_now(),
    due_at         timestamp with time zone NOT NULL,
    warned_at      timestamp with time zone,
    escalated_at   timestamp with time zone,
    state          text NOT NULL DEFAULT 'open'::text,
    decision       text,
    reasons        text,
    decided_by     text,
    decided_at     timestamp with time zone,
    released_minor bigint,
    CONSTRAINT objections_pkey PRIMARY KEY (objection_id),
    CONSTRAINT objections_request_id_key UNIQUE (request_id),
    CONSTRAINT objections_case_id_bank_code_account_number_fkey FOREIGN KEY (case_id, bank_code, account_number) REFERENCES holds(case_id, bank_code, account_number),
    CONSTRAINT objections_check CHECK ((due_at > filed_at)),
    CONSTRAINT objections_check1 CHECK (((state = 'decided'::text) = ((decision IS NOT NULL) AND (reasons IS NOT NULL) AND (reasons <> ''::text) AND (decided_by IS NOT NULL) AND (decided_at IS NOT NULL)))),
    CONSTRAINT objections_check2 CHECK (((state = 'decided'::text) OR ((decision IS NULL) AND (reasons IS NULL) AND (decided_by IS NULL) AND (decided_at IS NULL)))),
    CONSTRAINT objections_decision_check CHECK ((decision = ANY (ARRAY['release'::text, 'release_part'::text, 'keep'::text]))),
    CONSTRAINT objections_documents_check CHECK ((jsonb_typeof(documents) = 'array'::text)),
    CONSTRAINT objections_grounds_check CHECK ((grounds <> ''::text)),
    CONSTRAINT objections_holder_name_check CHECK ((holder_name <> ''::text)),
    CONSTRAINT objections_release_part_amount CHECK (((decision IS DISTINCT FROM 'release_part'::text) OR (released_minor > 0))),
    CONSTRAINT objections_released_minor_check CHECK ((released_minor >= 0)),
    CONSTRAINT objections_released_when_decided CHECK (((state = 'decided'::text) OR (released_minor IS NULL))),
    CONSTRAINT objections_state_check CHECK ((state = ANY (ARRAY['open'::text, 'decided'::text]))),
    CONSTRAINT objections_taken_by_check CHECK ((taken_by <> ''::text)),
    CONSTRAINT objections_via_check CHECK ((via = ANY (ARRAY['bank'::text, 'station'::text])))
);

CREATE TABLE stopay_clock (
    one   boolean NOT NULL DEFAULT true,
    shift interval NOT NULL,
    CONSTRAINT stopay_clock_pkey PRIMARY KEY (one),
    CONSTRAINT stopay_clock_one_check CHECK (one)
);

CREATE TABLE stopay_migrations (
    version    integer NOT NULL,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT stopay_migrations_pkey PRIMARY KEY (version)
);

CREATE TABLE trail_accounts (
    case_id         uuid NOT NULL,
    bank_code       text NOT NULL,
    account_number  text NOT NULL,
    holder_name     text NOT NULL,
    level           integer NOT NULL,
    incoming        jsonb NOT NULL DEFAULT '{}'::jsonb,
    sent            jsonb NOT NULL DEFAULT '{}'::jsonb,
    rev             integer NOT NULL DEFAULT 0,
    left_minor      bigint NOT NULL DEFAULT 0,
    held_minor      bigint NOT NULL DEFAULT 0,
    in_flight_minor bigint NOT NULL DEFAULT 0,
    gaps            jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at      timestamp with time zone NOT NULL DEFAULT now(),
    releasing_minor bigint NOT NULL DEFAULT 0,
    seen_at         timestamp with time zone,
    seen_seq        bigint,
    asked_releases  integer NOT NULL DEFAULT 0,
    CONSTRAINT trail_accounts_pkey PRIMARY KEY (case_id, bank_code, account_number),
    CONSTRAINT trail_accounts_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(case_id),
    CONSTRAINT trail_accounts_asked_releases_check CHECK ((asked_releases >= 0)),
    CONSTRAINT trail_accounts_held_minor_check CHECK ((held_minor >= 0)),
    CONSTRAINT trail_accounts_in_flight_minor_check CHECK ((in_flight_minor >= 0)),
    CONSTRAINT trail_accounts_left_minor_check CHECK ((left_minor >= 0)),
    CONSTRAINT trail_accounts_level_check CHECK ((level >= 1)),
    CONSTRAINT trail_accounts_releasing_minor_check CHECK ((releasing_minor >= 0))
);

CREATE TABLE trail_exits (
    case_id        uuid NOT NULL,
    txn_id         text NOT NULL,
    order_id       uuid NOT NULL,
    bank_code      text NOT NULL,
    account_number text NOT NULL,
    level          integer NOT NULL,
    exit_kind      text NOT NULL,
    amount_minor   bigint NOT NULL,
    exited_at      timestamp with time zone NOT NULL,
    recorded_at    timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT trail_exits_pkey PRIMARY KEY (case_id, bank_code, account_number, txn_id),
    CONSTRAINT trail_exits_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(case_id),
    CONSTRAINT trail_exits_amount_minor_check CHECK ((amount_minor >= 0))
);

CREATE TABLE transfer_owners (
    payer_bank     text NOT NULL,
    payer_number   text NOT NULL,
    payee_bank     text NOT NULL,
    payee_number   text NOT NULL,
    txn_id         text NOT NULL,
    case_id        uuid NOT NULL,
    station_id     text NOT NULL,
    created_at     timestamp with time zone NOT NULL DEFAULT now(),
    amount_minor   bigint,
    payee_holder   text,
    transferred_at timestamp with time zone,
    CONSTRAINT transfer_owners_pkey PRIMARY KEY (payer_bank, payer_number, payee_bank, payee_number, txn_id),
    CONSTRAINT transfer_owners_case_id_fkey FOREIGN KEY (case_id) REFERENCES cases(case_id)
);

-- Indexes (those of primary keys and unique constraints are in the tables)

CREATE INDEX case_events_by_time ON public.case_events USING btree (at);

CREATE INDEX case_reviews_awaiting ON public.case_reviews USING btree (requested_at) WHERE (state = 'awaiting'::text);

CREATE INDEX cases_by_report_no ON public.cases USING btree (report_no);

CREATE INDEX cases_by_station ON public.cases USING btree (station_id, created_at DESC, case_id DESC);

CREATE INDEX cases_by_time ON public.cases USING btree (created_at DESC, case_id DESC);

CREATE INDEX entry_transfers_linked ON public.entry_transfers USING btree (linked_case_id) WHERE (linked_case_id IS NOT NULL);

CREATE INDEX freeze_orders_by_account ON public.freeze_orders USING btree (bank_code, account_number, case_id);

CREATE INDEX freeze_orders_by_order_id ON public.freeze_orders USING btree (order_id);

CREATE INDEX freeze_orders_due ON public.freeze_orders USING btree (next_attempt_at) WHERE freeze_order_open(status);

CREATE UNIQUE INDEX freeze_orders_one_retry ON public.freeze_orders USING btree (case_id, retry_of) WHERE (retry_of IS NOT NULL);

CREATE INDEX freeze_orders_open_at_account ON public.freeze_orders USING btree (case_id, bank_code, account_number) WHERE freeze_order_open(status);

CREATE INDEX freeze_orders_releases_at_account ON public.freeze_orders USING btree (bank_code, account_number) WHERE ((kind = 'release'::text) AND (status = 'released'::text) AND (released_minor > 0));

CREATE INDEX freeze_orders_returns_to ON public.freeze_orders USING btree (((params ->> 'beneficiary_case'::text))) WHERE (kind = 'return'::text);

CREATE INDEX hold_approvals_open ON public.hold_approvals USING btree (bank_code, account_number) WHERE (status = 'requested'::text);

CREATE INDEX holds_by_account ON public.holds USING btree (bank_code, account_number);

CREATE INDEX holds_live_by_expiry ON public.holds USING btree (expires_at) WHERE (state = ANY (ARRAY['stopped'::text, 'frozen'::text]));

CREATE INDEX holds_returns_due ON public.holds USING btree (return_due_at) WHERE ((state = 'returning'::text) AND (return_paid_at IS NULL));

CREATE INDEX objections_by_case ON public.objections USING btree (case_id, filed_at);

CREATE UNIQUE INDEX objections_one_open ON public.objections USING btree (case_id, bank_code, account_number) WHERE (state = 'open'::text);

CREATE INDEX objections_open_by_due ON public.objections USING btree (due_at) WHERE (state = 'open'::text);

CREATE INDEX trail_accounts_by_account ON public.trail_accounts USING btree (bank_code, account_number, case_id);

-- Views

CREATE VIEW case_summaries AS
 SELECT c.case_id,
    c.entry_id,
    c.station_id,
    c.officer_id,
    c.report_no,
    c.victim_name,
    c.fraud_type,
    c.currency,
    c.reported_minor,
    c.created_at,
    c.rule,
    c.max_depth,
    c.min_amount,
    x.exited_minor,
    o.held_minor,
    o.order_count,
    o.open_orders,
    r.returned_minor,
    l.linked_minor,
    x.back_with_victim_minor,
    o.awaiting_orders,
    o.awaiting_minor,
    v.state AS review_state
   FROM cases c
     CROSS JOIN LATERAL ( SELECT COALESCE(sum(freeze_orders.held_minor - freeze_orders.released_minor), 0::numeric)::bigint AS held_minor,
            count(*)::integer AS order_count,
            count(*) FILTER (WHERE freeze_order_unresolved(freeze_orders.status))::integer AS open_orders,
            count(*) FILTER (WHERE freeze_orders.status = 'awaiting_review'::text)::integer AS awaiting_orders,
            COALESCE(sum(freeze_orders.freeze_minor) FILTER (WHERE freeze_orders.status = 'awaiting_review'::text), 0::numeric)::bigint AS awaiting_minor
           FROM freeze_orders
          WHERE freeze_orders.case_id = c.case_id) o
     CROSS JOIN LATERAL ( SELECT COALESCE(sum(trail_exits.amount_minor) FILTER (WHERE trail_exits.exit_kind <> 'BACK_WITH_VICTIM'::text), 0::numeric)::bigint AS exited_minor,
            COALESCE(sum(trail_exits.amount_minor) FILTER (WHERE trail_exits.exit_kind = 'BACK_WITH_VICTIM'::text), 0::numeric)::bigint AS back_with_victim_minor
           FROM trail_exits
          WHERE trail_exits.case_id = c.case_id) x
     CROSS JOIN LATERAL ( SELECT COALESCE(sum(freeze_orders.released_minor), 0::numeric)::bigint AS returned_minor
           FROM freeze_orders
          WHERE freeze_orders.kind = 'return'::text AND (freeze_orders.params ->> 'beneficiary_case'::text) = c.case_id::text) r
     CROSS JOIN LATERAL ( SELECT COALESCE(sum(entry_transfers.amount_minor), 0::numeric)::bigint AS linked_minor
           FROM entry_transfers
          WHERE entry_transfers.case_id = c.case_id AND entry_transfers.linked_case_id IS NOT NULL) l
     LEFT JOIN case_reviews v ON v.case_id = c.case_id;

CREATE VIEW hold_views AS
 SELECT h.case_id,
    h.bank_code,
    h.account_number,
    h.state,
    h.stops,
    h.max_stops,
    h.freezes,
    h.major,
    h.document,
    h.stopped_at,
    h.expires_at,
    h.warned_at,
    h.return_due_at,
    h.return_paid_at,
    h.ended_at,
    h.end_reason,
    COALESCE(t.held_minor, 0::bigint) AS held_minor,
    t.holder_name,
    h.expires_at <= stopay_now() AS expired,
    ( SELECT COALESCE(jsonb_agg(jsonb_build_object('approval_id', a.approval_id, 'action', a.action, 'requested_by', a.requested_by, 'reason', a.reason, 'requested_at', a.requested_at, 'document', a.document, 'major', a.major, 'amount_minor',
                CASE a.action
                    WHEN 'formalize'::text THEN (a.document ->> 'amount_minor'::text)::bigint
                    ELSE COALESCE(((a.basis -> 'paying'::text) ->> h.case_id::text)::bigint, 0::bigint)
                END) ORDER BY a.requested_at, a.approval_id), '[]'::jsonb) AS "coalesce"
           FROM hold_approvals a
          WHERE a.status = 'requested'::text AND a.bank_code = h.bank_code AND a.account_number = h.account_number AND (a.action = 'formalize'::text AND a.case_id = h.case_id AND (a.basis ->> 'state'::text) = h.state AND ((a.basis ->> 'freezes'::text)::integer) = h.freezes AND h.expires_at > stopay_now() OR a.action = 'return'::text AND h.state = 'frozen'::text AND (a.basis -> 'paying'::text) ? h.case_id::text)) AS pending
   FROM holds h
     LEFT JOIN trail_accounts t ON t.case_id = h.case_id AND t.bank_code = h.bank_code AND t.account_number = h.account_number;

-- Functions

CREATE OR REPLACE FUNCTION public.audit_checkpoints_append_only()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    RAISE EXCEPTION 'audit_checkpoints is append-only' USING ERRCODE = 'insufficient_privilege';
END $function$;

CREATE OR REPLACE FUNCTION public.case_chain_heads_guard()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
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
END $function$;

CREATE OR REPLACE FUNCTION public.case_chain_lock(p_case_id uuid)
 RETURNS case_chain_heads
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'public', 'pg_temp'
AS $function$
DECLARE
    head case_chain_heads;
BEGIN
    SELECT * INTO head FROM case_chain_heads WHERE case_id = p_case_id FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO case_chain_heads (case_id) VALUES (p_case_id) ON CONFLICT (case_id) DO NOTHING;
        SELECT * INTO STRICT head FROM case_chain_heads WHERE case_id = p_case_id FOR UPDATE;
    END IF;
    RETURN head;
END $function$;
REVOKE EXECUTE ON FUNCTION case_chain_lock(p_case_id uuid) FROM PUBLIC;

CREATE OR REPLACE FUNCTION public.case_event_canonical(case_id uuid, chain_pos bigint, seq bigint, at timestamp with time zone, actor text, kind text, order_id uuid, detail jsonb)
 RETURNS text
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$
    SELECT jsonb_build_array(case_id::text, chain_pos, seq,
                             to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                             actor, kind, order_id::text, detail)::text
$function$;

CREATE OR REPLACE FUNCTION public.case_event_hash(prev_hash bytea, case_id uuid, chain_pos bigint, seq bigint, at timestamp with time zone, actor text, kind text, order_id uuid, detail jsonb)
 RETURNS bytea
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$
    SELECT sha256(prev_hash || convert_to(
        case_event_canonical(case_id, chain_pos, seq, at, actor, kind, order_id, detail), 'UTF8'))
$function$;

CREATE OR REPLACE FUNCTION public.case_events_append_only()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    RAISE EXCEPTION 'case_events is append-only' USING ERRCODE = 'insufficient_privilege';
END $function$;

CREATE OR REPLACE FUNCTION public.case_events_chain()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'public', 'pg_temp'
AS $function$
DECLARE
    head case_chain_heads;
BEGIN
    SELECT * INTO head FROM case_chain_heads WHERE case_id = NEW.case_id FOR UPDATE;
    IF NOT FOUND THEN
        -- The case's first event: the head is created at it (migration 0019 says why its seq may
        -- be taken first).
        NEW.seq := nextval('public.case_events_seq_seq'::regclass);
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
    NEW.seq := nextval('public.case_events_seq_seq'::regclass);
    -- Stamped after the lock too, so that within a case time order is chain order.
    NEW.at := clock_timestamp();
    NEW.chain_pos := head.events + 1;
    NEW.prev_hash := head.hash;
    NEW.hash := case_event_hash(NEW.prev_hash, NEW.case_id, NEW.chain_pos, NEW.seq, NEW.at, NEW.actor,
                                NEW.kind, NEW.order_id, NEW.detail);
    UPDATE case_chain_heads SET seq = NEW.seq, hash = NEW.hash, events = NEW.chain_pos
    WHERE case_id = NEW.case_id;
    RETURN NEW;
END $function$;
REVOKE EXECUTE ON FUNCTION case_events_chain() FROM PUBLIC;

CREATE OR REPLACE FUNCTION public.case_reviews_guard()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
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
END $function$;

CREATE OR REPLACE FUNCTION public.entry_transfers_linked_notify()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    PERFORM pg_notify('stopay_case', NEW.linked_case_id::text);
    RETURN NULL;
END $function$;

CREATE OR REPLACE FUNCTION public.freeze_order_open(status text)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
RETURN (status = ANY (ARRAY['queued'::text, 'freezing'::text, 'pending'::text]));

CREATE OR REPLACE FUNCTION public.freeze_order_unresolved(status text)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
RETURN (freeze_order_open(status) OR (status = 'awaiting_review'::text));

CREATE OR REPLACE FUNCTION public.freeze_orders_guard()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
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
END $function$;

CREATE OR REPLACE FUNCTION public.freeze_orders_no_delete()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    RAISE EXCEPTION 'freeze orders are never deleted' USING ERRCODE = 'check_violation';
END $function$;

CREATE OR REPLACE FUNCTION public.freeze_orders_notify()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
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
END $function$;

CREATE OR REPLACE FUNCTION public.freeze_orders_retry_guard()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    failed freeze_orders;
BEGIN
    SELECT * INTO failed FROM freeze_orders WHERE case_id = NEW.case_id AND order_id = NEW.retry_of;
    IF NOT FOUND OR failed.status <> 'undeliverable' THEN
        RAISE EXCEPTION 'order % of case % is not undeliverable: it cannot be retried', NEW.retry_of, NEW.case_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF failed.kind = 'extend' AND NOT EXISTS (
        SELECT 1 FROM holds h
        WHERE h.case_id = failed.case_id AND h.bank_code = failed.bank_code
          AND h.account_number = failed.account_number AND h.state IN ('stopped', 'frozen')
    ) THEN
        RAISE EXCEPTION 'the hold order % would extend has ended: it cannot be retried', NEW.retry_of
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $function$;

CREATE OR REPLACE FUNCTION public.hold_approvals_guard()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'approvals are never deleted' USING ERRCODE = 'check_violation';
    END IF;
    IF NOT (OLD.status = 'requested' AND NEW.status = 'approved')
       OR (NEW.approval_id, NEW.action, NEW.case_id, NEW.bank_code, NEW.account_number, NEW.basis,
           NEW.document, NEW.major, NEW.reason, NEW.request_id, NEW.requested_by, NEW.requested_at)
          IS DISTINCT FROM
          (OLD.approval_id, OLD.action, OLD.case_id, OLD.bank_code, OLD.account_number, OLD.basis,
           OLD.document, OLD.major, OLD.reason, OLD.request_id, OLD.requested_by, OLD.requested_at) THEN
        RAISE EXCEPTION 'approval % can only move from requested to approved, once (it is %)',
            OLD.approval_id, OLD.status USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $function$;

CREATE OR REPLACE FUNCTION public.hold_warn_due(state text, expires_at timestamp with time zone, warned_at timestamp with time zone, stop_hours integer, freeze_days integer)
 RETURNS boolean
 LANGUAGE sql
 STABLE
AS $function$
    SELECT state IN ('stopped', 'frozen') AND warned_at IS NULL AND expires_at > stopay_now()
       AND expires_at <= stopay_now() + CASE state WHEN 'stopped' THEN make_interval(hours => stop_hours)
                                                   ELSE make_interval(days => freeze_days) END
$function$;

CREATE OR REPLACE FUNCTION public.holds_guard()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
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
END $function$;

CREATE OR REPLACE FUNCTION public.holds_no_delete()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    RAISE EXCEPTION 'holds are never deleted' USING ERRCODE = 'check_violation';
END $function$;

CREATE OR REPLACE FUNCTION public.holds_notify()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    PERFORM pg_notify('stopay_case', NEW.case_id::text);
    RETURN NULL;
END $function$;

CREATE OR REPLACE FUNCTION public.objections_guard()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'objections are never deleted' USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.state = 'decided' AND NEW IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'objection % is decided and cannot change', OLD.objection_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.state <> OLD.state AND NOT (OLD.state = 'open' AND NEW.state = 'decided') THEN
        RAISE EXCEPTION 'objection % cannot move from % to %', OLD.objection_id, OLD.state, NEW.state
            USING ERRCODE = 'check_violation';
    END IF;
    IF (NEW.objection_id, NEW.case_id, NEW.bank_code, NEW.account_number, NEW.holder_name, NEW.via,
        NEW.taken_by, NEW.grounds, NEW.documents, NEW.request_id, NEW.filed_at, NEW.due_at)
       IS DISTINCT FROM
       (OLD.objection_id, OLD.case_id, OLD.bank_code, OLD.account_number, OLD.holder_name, OLD.via,
        OLD.taken_by, OLD.grounds, OLD.documents, OLD.request_id, OLD.filed_at, OLD.due_at)
       OR (OLD.warned_at IS NOT NULL AND NEW.warned_at IS DISTINCT FROM OLD.warned_at)
       OR (OLD.escalated_at IS NOT NULL AND NEW.escalated_at IS DISTINCT FROM OLD.escalated_at) THEN
        RAISE EXCEPTION 'objection % is immutable but for its warning, escalation and decision', OLD.objection_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $function$;

CREATE OR REPLACE FUNCTION public.stopay_evidence_append_only()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $function$;

CREATE OR REPLACE FUNCTION public.stopay_grant_app(app name, grants jsonb)
 RETURNS integer
 LANGUAGE plpgsql
AS $function$
DECLARE
    g       record;
    missing text;
    n       integer := 0;
    target  text;
BEGIN
    IF app = current_user THEN
        RAISE EXCEPTION 'role % runs the migrations: give the service another role', app
            USING ERRCODE = 'invalid_grant_operation';
    END IF;
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = app) THEN
        RAISE EXCEPTION 'role % is a superuser: grants cannot hold it back', app
            USING ERRCODE = 'invalid_grant_operation';
    END IF;
    SELECT string_agg(c.relname, ', ' ORDER BY c.relname) INTO missing
    FROM pg_class c
    WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
      AND NOT grants ? c.relname;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'the grants of the application role do not name %', missing
            USING ERRCODE = 'invalid_grant_operation',
                  HINT = 'add them to stopay/store/sql/grant_app_role.sql';
    END IF;
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %I', current_schema(), app);
    EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM %I', current_schema(), app);
    EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA %I FROM %I', current_schema(), app);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), app);
    FOR g IN SELECT key, value FROM jsonb_each_text(grants) ORDER BY key LOOP
        CONTINUE WHEN g.value = '';
        IF g.value !~ '^[A-Z]+( \([a-z0-9_, ]+\))?(, [A-Z]+( \([a-z0-9_, ]+\))?)*$' THEN
            RAISE EXCEPTION 'not a list of privileges for %: %', g.key, g.value
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF strpos(g.key, '(') > 0 THEN
            target := 'FUNCTION ' || g.key::regprocedure::text;
        ELSIF (SELECT relkind FROM pg_class WHERE oid = g.key::regclass) = 'S' THEN
            target := 'SEQUENCE ' || g.key::regclass::text;
        ELSE
            target := 'TABLE ' || g.key::regclass::text;
        END IF;
        EXECUTE format('GRANT %s ON %s TO %I', g.value, target, app);
        n := n + 1;
    END LOOP;
    RETURN n;
END $function$;
REVOKE EXECUTE ON FUNCTION stopay_grant_app(app name, grants jsonb) FROM PUBLIC;

CREATE OR REPLACE FUNCTION public.stopay_now()
 RETURNS timestamp with time zone
 LANGUAGE plpgsql
 STABLE
AS $function$
BEGIN
    RETURN now() + coalesce((SELECT shift FROM stopay_clock), interval '0');
END $function$;

CREATE OR REPLACE FUNCTION public.transfer_owners_guard()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF TG_OP <> 'UPDATE' OR NEW IS DISTINCT FROM OLD THEN
        RAISE EXCEPTION 'the case tracing a transfer never changes' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $function$;

-- Triggers

CREATE TRIGGER audit_checkpoints_append_only BEFORE DELETE OR UPDATE ON audit_checkpoints FOR EACH ROW EXECUTE FUNCTION audit_checkpoints_append_only();

CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints FOR EACH STATEMENT EXECUTE FUNCTION audit_checkpoints_append_only();

CREATE TRIGGER bank_answers_append_only BEFORE DELETE OR UPDATE ON bank_answers FOR EACH ROW EXECUTE FUNCTION stopay_evidence_append_only();

CREATE TRIGGER bank_answers_no_truncate BEFORE TRUNCATE ON bank_answers FOR EACH STATEMENT EXECUTE FUNCTION stopay_evidence_append_only();

CREATE TRIGGER case_chain_heads_guard BEFORE INSERT OR DELETE OR UPDATE ON case_chain_heads FOR EACH ROW EXECUTE FUNCTION case_chain_heads_guard();

CREATE TRIGGER case_chain_heads_no_truncate BEFORE TRUNCATE ON case_chain_heads FOR EACH STATEMENT EXECUTE FUNCTION case_chain_heads_guard();

CREATE TRIGGER case_events_append_only BEFORE DELETE OR UPDATE ON case_events FOR EACH ROW EXECUTE FUNCTION case_events_append_only();

CREATE TRIGGER case_events_chain BEFORE INSERT ON case_events FOR EACH ROW EXECUTE FUNCTION case_events_chain();

CREATE TRIGGER case_events_no_truncate BEFORE TRUNCATE ON case_events FOR EACH STATEMENT EXECUTE FUNCTION case_events_append_only();

CREATE TRIGGER case_reviews_guard BEFORE DELETE OR UPDATE ON case_reviews FOR EACH ROW EXECUTE FUNCTION case_reviews_guard();

CREATE TRIGGER case_reviews_no_truncate BEFORE TRUNCATE ON case_reviews FOR EACH STATEMENT EXECUTE FUNCTION case_reviews_guard();

CREATE TRIGGER cases_append_only BEFORE DELETE OR UPDATE ON cases FOR EACH ROW EXECUTE FUNCTION stopay_evidence_append_only();

CREATE TRIGGER cases_no_truncate BEFORE TRUNCATE ON cases FOR EACH STATEMENT EXECUTE FUNCTION stopay_evidence_append_only();

CREATE TRIGGER entry_transfers_append_only BEFORE DELETE OR UPDATE ON entry_transfers FOR EACH ROW EXECUTE FUNCTION stopay_evidence_append_only();

CREATE TRIGGER entry_transfers_linked_notify AFTER INSERT ON entry_transfers FOR EACH ROW WHEN (new.linked_case_id IS NOT NULL) EXECUTE FUNCTION entry_transfers_linked_notify();

CREATE TRIGGER entry_transfers_no_truncate BEFORE TRUNCATE ON entry_transfers FOR EACH STATEMENT EXECUTE FUNCTION stopay_evidence_append_only();

CREATE TRIGGER freeze_orders_guard BEFORE UPDATE ON freeze_orders FOR EACH ROW EXECUTE FUNCTION freeze_orders_guard();

CREATE TRIGGER freeze_orders_no_delete BEFORE DELETE ON freeze_orders FOR EACH ROW EXECUTE FUNCTION freeze_orders_no_delete();

CREATE TRIGGER freeze_orders_notify AFTER INSERT OR UPDATE OF status, held_minor, attempts ON freeze_orders FOR EACH ROW EXECUTE FUNCTION freeze_orders_notify();

CREATE TRIGGER freeze_orders_retry_guard BEFORE INSERT ON freeze_orders FOR EACH ROW WHEN (new.retry_of IS NOT NULL) EXECUTE FUNCTION freeze_orders_retry_guard();

CREATE TRIGGER hold_approvals_guard BEFORE DELETE OR UPDATE ON hold_approvals FOR EACH ROW EXECUTE FUNCTION hold_approvals_guard();

CREATE TRIGGER holds_guard BEFORE UPDATE ON holds FOR EACH ROW EXECUTE FUNCTION holds_guard();

CREATE TRIGGER holds_no_delete BEFORE DELETE ON holds FOR EACH ROW EXECUTE FUNCTION holds_no_delete();

CREATE TRIGGER holds_notify AFTER INSERT OR UPDATE ON holds FOR EACH ROW EXECUTE FUNCTION holds_notify();

CREATE TRIGGER objections_guard BEFORE DELETE OR UPDATE ON objections FOR EACH ROW EXECUTE FUNCTION objections_guard();

CREATE TRIGGER transfer_owners_guard BEFORE DELETE OR UPDATE ON transfer_owners FOR EACH ROW EXECUTE FUNCTION transfer_owners_guard();

CREATE TRIGGER transfer_owners_no_truncate BEFORE TRUNCATE ON transfer_owners FOR EACH STATEMENT EXECUTE FUNCTION transfer_owners_guard();

-- State machines: the moves the guard triggers allow (the rows of the transitions tables)

INSERT INTO freeze_order_transitions (from_status, to_status) VALUES
    ('awaiting_review', 'declined'), ('awaiting_review', 'freezing'), ('awaiting_review', 'queued'),
    ('freezing', 'held'), ('freezing', 'moved_on'), ('freezing', 'partially_held'),
    ('freezing', 'pending'), ('freezing', 'rejected'), ('freezing', 'undeliverable'),
    ('pending', 'held'), ('pending', 'moved_on'), ('pending', 'partially_held'),
    ('pending', 'rejected'), ('pending', 'undeliverable'),
    ('queued', 'awaiting_review'), ('queued', 'declined'), ('queued', 'extended'),
    ('queued', 'freezing'), ('queued', 'held'), ('queued', 'moved_on'), ('queued', 'partially_held'),
    ('queued', 'pending'), ('queued', 'rejected'), ('queued', 'released'), ('queued', 'returned'),
    ('queued', 'undeliverable');

INSERT INTO hold_transitions (from_state, to_state) VALUES
    ('frozen', 'frozen'), ('frozen', 'lapsed'), ('frozen', 'released'), ('frozen', 'returning'),
    ('returning', 'returned'),
    ('stopped', 'frozen'), ('stopped', 'lapsed'), ('stopped', 'released'), ('stopped', 'stopped');

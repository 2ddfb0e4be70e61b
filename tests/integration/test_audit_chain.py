"""The audit trail's hash chains on a real PostgreSQL: the Python and SQL encodings agree, a fresh
log verifies, an edited, deleted or rewritten event and a tampered head are named, concurrent
writers never fork a chain, and migrating an older database chains the events it already had."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from stopay.api.validation import entry_from_request
from stopay.domain.clock import SYSTEM_CLOCK
from stopay.domain.orders import OrderStatus, RetryRefused
from stopay.domain.trail import Limits
from stopay.service.answers.apply import Settled, apply_answers
from stopay.store import audit, entries, migrate, queries
from stopay.store import orders as store
from stopay.store.database import open_pool
from stopay.store.embedded import with_database
from tests.conftest import eventually
from tests.entries import simple_request

ZERO = bytes(32)


async def submit(pool, *payees):
    entry = entry_from_request(simple_request(*payees), SYSTEM_CLOCK.now())
    case_id, duplicate = await entries.submit_entry(pool, entry, Limits(), "officer:O-1001")
    assert not duplicate
    return case_id


# An order stopay could not deliver, as the dispatcher leaves it (store/sql/give_up_unserved.sql):
# a stop's freeze, in flight since it was written, is taken off the account's row (its retry puts
# it back). No event: the tests count the retries' events only.
UNDELIVERABLE = """
WITH failed AS (
    UPDATE freeze_orders SET status = 'undeliverable', reason_code = 'NOAS', resolved_at = now()
    WHERE case_id = $1 AND order_id = $2 AND status = 'queued'
    RETURNING case_id, bank_code, account_number, kind, freeze_minor
), stop_off AS (
    UPDATE trail_accounts t SET in_flight_minor = t.in_flight_minor - f.freeze_minor
    FROM failed f
    WHERE f.kind = 'stop' AND t.case_id = f.case_id AND t.bank_code = f.bank_code
      AND t.account_number = f.account_number
)
SELECT count(*) FROM failed
"""


async def undeliverable(pool, case_id, order_id) -> None:
    assert await pool.fetchval(UNDELIVERABLE, case_id, order_id) == 1


async def assert_in_flight_is_the_open_stops(pool, case_id) -> None:
    """Nothing counted in flight on the case's accounts but the freezes of its stops still out
    (queued or pending), account by account."""
    open_stops = "o.kind = 'stop' AND o.status IN ('queued', 'pending')"
    rows = await pool.fetch(
        "SELECT t.in_flight_minor, (SELECT coalesce(sum(o.freeze_minor), 0) FROM freeze_orders o"
        "  WHERE o.case_id = t.case_id AND o.bank_code = t.bank_code AND o.account_number = t.account_number"
        f"    AND {open_stops}) AS open_stops"
        " FROM trail_accounts t WHERE t.case_id = $1",
        case_id,
    )
    assert all(r["in_flight_minor"] == r["open_stops"] for r in rows), [dict(r) for r in rows]
    out = await pool.fetchval(
        f"SELECT coalesce(sum(o.freeze_minor), 0) FROM freeze_orders o WHERE o.case_id = $1 AND {open_stops}", case_id
    )
    assert sum(r["in_flight_minor"] for r in rows) == out  # no stop out on an account without its row


async def failed_order(pool, case_id) -> uuid.UUID:
    """One of the case's orders (a freeze order or a stop), made undeliverable so that operators may
    retry it."""
    order_id = await pool.fetchval(
        "SELECT order_id FROM freeze_orders WHERE case_id = $1 AND status = 'queued' ORDER BY order_id LIMIT 1", case_id
    )
    await undeliverable(pool, case_id, order_id)
    return order_id


# An operator's retry as schema version 5 had it (before orders carried params), for a database
# built at that version.
RETRY_AT_VERSION_5 = """
WITH failed AS (
    SELECT * FROM freeze_orders WHERE order_id = $1 AND status = 'undeliverable' AND kind = 'freeze'
), created AS (
    INSERT INTO freeze_orders (case_id, order_id, parent_order_id, kind, level, bank_code, account_number,
                               holder_name, currency, requested_minor, incoming, idempotency_key, retry_of)
    SELECT f.case_id, $2, f.parent_order_id, f.kind, f.level, f.bank_code, f.account_number, f.holder_name,
           f.currency, f.requested_minor, f.incoming, f.idempotency_key, f.order_id
    FROM failed f ON CONFLICT DO NOTHING
    RETURNING case_id, order_id
), events AS (
    INSERT INTO case_events (case_id, actor, kind, order_id, detail)
    SELECT c.case_id, $3, 'order.retried', c.order_id, jsonb_build_object('retry_of', $1::uuid) FROM created c
)
SELECT case_id, order_id FROM created
"""


async def retry_at_version_5(pool, order_id: uuid.UUID, actor: str):  # type: ignore[no-untyped-def]
    """The retry as the schema of version 5 wrote it, answering as the store's retry does now."""
    row = await pool.fetchrow(RETRY_AT_VERSION_5, order_id, uuid.uuid4(), actor)
    return (row["case_id"], row["order_id"]) if row else RetryRefused.RETRIED_ALREADY


def submit_at_version_7(name: str) -> queries.Query:
    """The store's statements, but an entry stored as schema version 7 had it (its parameters in
    the order that file numbers them)."""
    if name != "submit_entry":
        return queries.query(name)
    return queries.Query(name, SUBMIT_AT_VERSION_7, SUBMIT_AT_VERSION_7_PARAMS)


SUBMIT_AT_VERSION_7_PARAMS = (
    "case_id",
    "entry_id",
    "payload_sha256",
    "station_id",
    "officer_id",
    "report_no",
    "victim_name",
    "victim_id_number",
    "victim_phone",
    "fraud_type",
    "narrative",
    "currency",
    "reported_minor",
    "transfers",
    "orders",
    "actor",
    "rule",
    "max_depth",
    "min_amount",
    "same_transfer_window_s",
    "confirmation",
)


SUBMIT_AT_VERSION_7 = (Path(__file__).parents[1] / "data" / "submit_entry_v7.sql").read_text(encoding="utf-8")


_ACCOUNTS = itertools.count()


async def some_cases(pool, n: int = 3, retry=store.retry) -> list[uuid.UUID]:  # type: ignore[no-untyped-def]
    """``n`` cases of 2 accounts each (a freeze order and its stop at each: 4 orders), with a few
    retries: 7 events per case (case.accepted, 4 order.queued, 2 order.retried); 5 when submitted as
    schema version 7 did (no stops)."""
    cases = []
    for _ in range(n):
        # Accounts not used before: the same transfer reported again would be linked, not traced.
        k = next(_ACCOUNTS)
        case_id = await submit(pool, ("ICBC", f"622202020001{k:07d}", 5000), ("ABC", f"622848000001{k:07d}", 700))
        failed = await failed_order(pool, case_id)
        retried = await retry(pool, failed, "operator:O-7")
        assert isinstance(retried, tuple)  # (case_id, the new order)
        assert await retry(pool, failed, "operator:O-7") is RetryRefused.RETRIED_ALREADY  # an order is retried once
        await undeliverable(pool, case_id, retried[1])  # the retry fails in turn, and is retried itself
        assert isinstance(await retry(pool, retried[1], "operator:O-7"), tuple)
        await assert_in_flight_is_the_open_stops(pool, case_id)
        cases.append(case_id)
    return cases


async def chain(pool, case_id) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT chain_pos, seq, prev_hash, hash, detail FROM case_events WHERE case_id = $1 ORDER BY chain_pos", case_id
    )


async def superuser(
    pool, statement: str, *args, disable: str = "case_events_append_only", table: str = "case_events"
) -> None:
    """What a superuser could do: switch the guard off, change a row, switch it on again."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {disable}")
        await conn.execute(statement, *args)
        await conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER {disable}")


def assert_linked(rows) -> None:
    """A chain without fork or gap: positions 1..n, seqs growing, each event linked to the one before."""
    assert [r["chain_pos"] for r in rows] == list(range(1, len(rows) + 1))
    assert all(a["seq"] < b["seq"] for a, b in itertools.pairwise(rows))
    assert [bytes(r["prev_hash"]) for r in rows] == [ZERO] + [bytes(r["hash"]) for r in rows[:-1]]


# ---- the encoding ---------------------------------------------------------------------------------

DETAILS = [
    "{}",
    "[]",
    "null",
    "true",
    '"just a string"',
    "0",
    "-0",
    "-0.0",
    "0E-5",
    "1.50",
    "1e2",
    "1.5e+10",
    "1E-3",
    "-1.25e-7",
    "12345678901234567890.000",
    "1e30",
    '{"bb": 1, "a": {"c": [1, 2, {}], "ab": null}, "é": "é\\n\\u0001\\u007f/", "": "", "zz": [true, false]}',
    '{"quote": "say \\"hi\\" \\\\ back\\\\slash", "tab\\t": "\\b\\f\\r\\t\\u001f", "中文": "陈某 \\u2028 𝄞"}',
    '{"a": 1, "a": 2, "b": {"y": 1, "x": 2, "yy": 3}, "nested": [[[]], [{}], [[1.0]]]}',
]


async def test_python_and_sql_encodings_agree(pool) -> None:
    (case_id,) = await some_cases(pool, 1)
    async with pool.acquire() as conn:
        await conn.execute("SET TIME ZONE 'Asia/Shanghai'")  # the encoding is in UTC whatever the session's
        for n, detail in enumerate(DETAILS):
            await conn.execute(
                "INSERT INTO case_events (case_id, actor, kind, order_id, detail, at)"
                " VALUES ($1, $2, $3, $4, $5::text::jsonb, coalesce($6, clock_timestamp()))",
                case_id,
                f'officer "{n}" 陈\\',
                f"test.kind\t{n}",
                uuid.uuid4() if n % 2 else None,
                detail,
                [
                    datetime(2024, 2, 29, 23, 59, 59, 500000, tzinfo=timezone(timedelta(hours=8))),
                    datetime(999, 1, 1, tzinfo=UTC),
                    datetime(2030, 1, 1, tzinfo=UTC),
                    None,
                ][n % 4],
            )
        rows = await conn.fetch(
            "SELECT case_id, chain_pos, seq, at, actor, kind, order_id, detail::text AS detail, prev_hash, hash,"
            " case_event_canonical(case_id, chain_pos, seq, at, actor, kind, order_id, detail) AS canonical"
            " FROM case_events ORDER BY case_id, chain_pos"
        )
    assert len(rows) == 7 + len(DETAILS)
    for r in rows:
        detail = json.loads(r["detail"], parse_float=Decimal)
        assert audit.canonical_json(detail) == r["detail"]
        encoding = audit.event_encoding(
            r["case_id"], r["chain_pos"], r["seq"], r["at"], r["actor"], r["kind"], r["order_id"], detail
        )
        assert encoding == r["canonical"].encode("utf-8")
        assert audit.event_hash(bytes(r["prev_hash"]), encoding) == bytes(r["hash"])
    report = await audit.verify(pool)
    assert report.ok and report.events == len(rows), report.breaks


def test_the_canonical_encoding_by_hand() -> None:
    at = datetime(2024, 5, 1, 16, 30, 0, 123, tzinfo=timezone(timedelta(hours=8)))
    case_id = uuid.UUID("00000000-0000-0000-0000-0000000000ab")
    encoding = audit.event_encoding(
        case_id, 1, 7, at, "a", "case.accepted", None, {"reported_minor": 5000, "entry_id": "e-1"}
    )
    assert encoding == (
        b'["00000000-0000-0000-0000-0000000000ab", 1, 7, "2024-05-01T08:30:00.000123Z", "a", "case.accepted", null,'
        b' {"entry_id": "e-1", "reported_minor": 5000}]'
    )
    assert audit.root_digest(["b:2:ff", "a:1:ee"]) == audit.root_digest(["a:1:ee", "b:2:ff"])


# ---- verification ---------------------------------------------------------------------------------


async def test_a_fresh_log_verifies_and_its_root_is_the_heads_root(pool) -> None:
    cases = await some_cases(pool, 3)
    report = await audit.verify(pool)
    assert report.ok and report.breaks == ()
    assert (report.cases, report.events) == (3, await pool.fetchval("SELECT count(*) FROM case_events")) == (3, 3 * 7)
    exported = await audit.heads(pool)
    assert exported.root_hash == report.root_hash and exported.taken_at is not None
    assert [h.case_id for h in exported.heads] == sorted(cases)
    for head in exported.heads:
        rows = await chain(pool, head.case_id)
        assert_linked(rows)
        assert (head.seq, head.hash, head.events) == (rows[-1]["seq"], bytes(rows[-1]["hash"]), len(rows))
    assert exported.root_hash == audit.root_digest(f"{h.case_id}:{h.seq}:{h.hash.hex()}" for h in exported.heads)
    assert json.loads(json.dumps(exported.as_json()))["root_hash"] == report.root_hash
    async with pool.acquire() as conn:  # a connection in a transaction of its own works as well
        async with conn.transaction():
            assert (await audit.verify(conn)).root_hash == report.root_hash


async def test_an_empty_log_verifies(pool) -> None:
    report = await audit.verify(pool)
    assert (report.ok, report.cases, report.events) == (True, 0, 0)
    assert (await audit.heads(pool)).root_hash == report.root_hash == audit.root_digest([])


async def test_an_edited_event_is_named(pool) -> None:
    cases = await some_cases(pool, 3)
    victim = cases[1]
    rows = await chain(pool, victim)
    edited = rows[2]["seq"]
    await superuser(pool, "UPDATE case_events SET detail = detail || '{\"requested_minor\": 1}' WHERE seq = $1", edited)
    report = await audit.verify(pool)
    assert not report.ok
    assert [(b.case_id, b.seq, b.kind) for b in report.breaks] == [(victim, edited, audit.HASH_MISMATCH)]
    assert report.breaks[0].problem.startswith("hash mismatch: ")
    # Other columns are covered as well.
    await superuser(pool, "UPDATE case_events SET at = at + interval '1 microsecond' WHERE seq = $1", rows[0]["seq"])
    await superuser(
        pool, "UPDATE case_events SET actor = 'someone else' WHERE case_id = $1 AND chain_pos = 5", cases[2]
    )
    report = await audit.verify(pool)
    last_of_third = (await chain(pool, cases[2]))[4]["seq"]
    assert {(b.case_id, b.seq, b.kind) for b in report.breaks} == {
        (victim, rows[0]["seq"], audit.HASH_MISMATCH),
        (cases[2], last_of_third, audit.HASH_MISMATCH),
    }


async def test_a_deleted_event_is_named(pool) -> None:
    cases = await some_cases(pool, 3)
    middle = await chain(pool, cases[0])
    await superuser(pool, "DELETE FROM case_events WHERE seq = $1", middle[1]["seq"])
    last = await chain(pool, cases[2])
    await superuser(pool, "DELETE FROM case_events WHERE seq = $1", last[-1]["seq"])
    report = await audit.verify(pool)
    assert not report.ok
    assert [(b.case_id, b.seq, b.kind) for b in report.breaks] == sorted(
        [
            (cases[0], middle[2]["seq"], audit.MISSING_EVENTS),  # the event after the gap
            (cases[2], last[-1]["seq"], audit.MISSING_EVENTS),  # the chain's end: the head still names it
        ]
    )
    assert "chain position 2 is missing" in next(b for b in report.breaks if b.case_id == cases[0]).detail


async def test_a_tampered_head_is_named_and_heads_only_move_with_events(pool) -> None:
    cases = await some_cases(pool, 2)
    for statement in (
        "UPDATE case_chain_heads SET hash = sha256('x')",
        "DELETE FROM case_chain_heads",
        "TRUNCATE case_chain_heads",
        "INSERT INTO case_chain_heads (case_id, seq, events) SELECT case_id, 1, 1 FROM cases LIMIT 1",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await pool.execute(statement)
    assert (await audit.verify(pool)).ok
    await superuser(
        pool,
        "UPDATE case_chain_heads SET hash = sha256('x') WHERE case_id = $1",
        cases[1],
        disable="case_chain_heads_guard",
        table="case_chain_heads",
    )
    report = await audit.verify(pool)
    last = (await chain(pool, cases[1]))[-1]["seq"]
    assert [(b.case_id, b.seq, b.kind) for b in report.breaks] == [(cases[1], last, audit.HEAD_MISMATCH)]
    # The chain still ends where it did: the root recomputed from the events no longer matches the heads'.
    assert report.root_hash != (await audit.heads(pool)).root_hash


async def test_a_rewritten_history_verifies_but_changes_the_exported_root(pool) -> None:
    """A superuser who recomputes the hashes after an edit makes the chains consistent again; the
    root exported before, kept elsewhere, shows it."""
    cases = await some_cases(pool, 2)
    kept = await audit.heads(pool)
    last = (await chain(pool, cases[0]))[-1]
    await superuser(
        pool,
        "UPDATE case_events SET actor = 'nobody',"
        " hash = case_event_hash(prev_hash, case_id, chain_pos, seq, at, 'nobody', kind, order_id, detail)"
        " WHERE seq = $1",
        last["seq"],
    )
    await superuser(
        pool,
        "UPDATE case_chain_heads h SET hash = e.hash FROM case_events e WHERE e.seq = $1 AND h.case_id = e.case_id",
        last["seq"],
        disable="case_chain_heads_guard",
        table="case_chain_heads",
    )
    report = await audit.verify(pool)
    assert report.ok
    assert report.root_hash != kept.root_hash == audit.root_digest(h.line for h in kept.heads)


# ---- concurrent writers ---------------------------------------------------------------------------


async def test_concurrent_writers_never_fork_a_chain(dsn) -> None:
    pool = await open_pool(dsn, min_size=4, max_size=20)
    try:
        cases = []
        for i in range(6):
            cases.append(
                await submit(
                    pool, *[(bank, f"6222{n}{i:011d}", 1000 + n) for n, bank in enumerate(("ICBC", "ABC", "CCB"))]
                )
            )
        failed = {case_id: await failed_order(pool, case_id) for case_id in cases}
        rng = random.Random(5)

        async def operator(case_id: uuid.UUID) -> None:  # one case, one event per transaction
            await store.retry(pool, failed[case_id], "operator:O-7")  # three operators race: one retries
            for n in range(4):
                await pool.execute(
                    "INSERT INTO case_events (case_id, actor, kind, detail) VALUES ($1, 'operator:O-7', 'note.added',"
                    " jsonb_build_object('n', $2::int))",
                    case_id,
                    n,
                )

        async def dispatcher(owner: str) -> None:  # several cases per transaction
            for _ in range(8):
                claimed = await store.claim(pool, owner, 12, 30)
                rng.shuffle(claimed)  # answers come in any order of cases
                half = len(claimed) // 2
                pending = [
                    Settled(
                        o, store.Outcome(o.case_id, o.order_id, OrderStatus.PENDING, answer_code="PDCR", recheck_s=0.0)
                    )
                    for o in claimed[:half]
                ]
                await apply_answers(pool, owner, pending, lambda attempts: 0.0)
                await store.reschedule(
                    pool,
                    owner,
                    [store.Retry(o.case_id, o.order_id, o.attempts, 0.0, "bank down") for o in claimed[half:]],
                    "dispatcher",
                )
                await asyncio.sleep(0)

        async def station(i: int) -> None:  # new cases meanwhile
            await submit(pool, ("BOC", f"6217000000{i:07d}", 300))

        await asyncio.gather(
            *(operator(c) for c in cases for _ in range(3)),
            *(dispatcher(f"replica-{n}") for n in range(5)),
            *(station(i) for i in range(6)),
        )
        report = await audit.verify(pool)
        assert report.ok, report.breaks
        assert report.cases == 12
        kinds = {
            r["kind"]: r["n"] for r in await pool.fetch("SELECT kind, count(*) AS n FROM case_events GROUP BY kind")
        }
        assert kinds["note.added"] == 6 * 3 * 4 and kinds["order.pending"] > 10
        assert kinds["order.retry_scheduled"] > 10
        assert kinds["order.retried"] == len(cases)
        heads = {h.case_id: h for h in (await audit.heads(pool)).heads}
        for case_id in await pool.fetch("SELECT case_id FROM cases"):
            rows = await chain(pool, case_id[0])
            assert_linked(rows)
            head = heads[case_id[0]]
            assert (head.seq, head.hash, head.events) == (rows[-1]["seq"], bytes(rows[-1]["hash"]), len(rows))
    finally:
        await pool.close()


async def test_a_cases_first_event_written_by_two_transactions_at_once_chains_once(dsn, pool) -> None:
    """The first event of a case creates its head (migration 0019). A second transaction writing the
    case's first event meanwhile waits for the first one, then chains after it, under the lock, with
    a later seq."""
    case_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO cases (case_id, entry_id, payload_sha256, station_id, officer_id, report_no, victim_name,"
        " currency, reported_minor) VALUES ($1, $2, sha256('x'), 'S-1', 'O-1', 'R-1', 'V', 'CNY', 100)",
        case_id,
        f"entry-{case_id}",
    )
    note = "INSERT INTO case_events (case_id, actor, kind, detail) VALUES ($1, $2, 'note.added', '{}')"
    first, second = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        writing = first.transaction()
        await writing.start()
        await first.execute(note, case_id, "first")
        waiting = asyncio.create_task(second.execute(note, case_id, "second"))
        waits = "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1"
        await eventually(lambda: pool.fetchval(waits, second.get_server_pid()))
        assert not waiting.done()
        await writing.commit()
        await asyncio.wait_for(waiting, 15)
    finally:
        await first.close()
        await second.close()
    rows = await pool.fetch(
        "SELECT actor, chain_pos, seq, at, prev_hash, hash FROM case_events WHERE case_id = $1 ORDER BY chain_pos",
        case_id,
    )
    assert [r["actor"] for r in rows] == ["first", "second"]
    assert_linked(rows)
    assert rows[0]["at"] <= rows[1]["at"]
    head = await pool.fetchrow("SELECT seq, hash, events FROM case_chain_heads WHERE case_id = $1", case_id)
    assert (head["seq"], bytes(head["hash"]), head["events"]) == (rows[1]["seq"], bytes(rows[1]["hash"]), 2)
    assert (await audit.verify(pool)).ok


# ---- migrating an older database --------------------------------------------------------------------


async def test_the_migration_chains_the_events_written_before_it(server_dsn, monkeypatch) -> None:
    name = f"stopay_chain_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = with_database(server_dsn, name)
    try:
        every = migrate.migrations()
        assert every[5].version == 6
        monkeypatch.setattr(migrate, "migrations", lambda: every[:5])
        monkeypatch.setattr(entries, "query", submit_at_version_7)
        pool = await open_pool(dsn, min_size=1, max_size=2)
        try:
            cases = await some_cases(pool, 3, retry_at_version_5)
            # Interleave the cases' events in seq order, as concurrent writers did before.
            for n in range(4):
                for case_id in reversed(cases):
                    await pool.execute(
                        "INSERT INTO case_events (case_id, actor, kind, detail) VALUES ($1, 'old', 'note', $2)",
                        case_id,
                        {"n": n, "price": "1.50"},
                    )
            before = await pool.fetch("SELECT case_id, seq FROM case_events ORDER BY case_id, seq")
            monkeypatch.undo()
            async with pool.acquire() as conn:
                assert await migrate.migrate(conn) == [m.version for m in every[5:]]
            report = await audit.verify(pool)
            assert report.ok, report.breaks
            # 3 cases of 5 events (version 7 wrote no stops) and 12 notes.
            assert (report.cases, report.events, len(before)) == (3, 27, 27)
            assert await pool.fetch("SELECT case_id, seq FROM case_events ORDER BY case_id, chain_pos") == before
            # New events carry on every chain, and the database's own events keep verifying.
            for case_id in cases:
                assert isinstance(await store.retry(pool, await failed_order(pool, case_id), "operator:O-8"), tuple)
            await some_cases(pool, 1)
            report = await audit.verify(pool)
            assert report.ok and (report.cases, report.events) == (4, 27 + 3 + 7)  # a new case: 7, stops and all
            for case_id in cases:
                rows = await chain(pool, case_id)
                assert_linked(rows)
                assert len(rows) == 10
        finally:
            await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

"""The schema and the dispatcher's queries on a real PostgreSQL: migrations, claims, leases, the
order state machine as the database enforces it, and the append-only event log."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import asyncpg
import pytest

from stopay.api.validation import entry_from_request
from stopay.domain.clock import SYSTEM_CLOCK
from stopay.domain.entry import level1_orders
from stopay.domain.orders import TRANSITIONS, OrderKind, OrderStatus, stop_of
from stopay.domain.trail import Limits
from stopay.service.answers.apply import Settled, apply_answers
from stopay.store import entries, migrate
from stopay.store import orders as store
from stopay.store.errors import MigrationDrift, SchemaTooNew
from tests.conftest import move_clock
from tests.entries import simple_request


async def submit(pool, *payees):
    entry = entry_from_request(simple_request(*payees), SYSTEM_CLOCK.now())
    case_id, duplicate = await entries.submit_entry(pool, entry, Limits(), "test")
    assert not duplicate
    return entry, case_id


async def test_migrating_again_applies_nothing_and_records_every_version(dsn) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        assert await migrate.migrate(conn) == []
        versions = [r["version"] for r in await conn.fetch("SELECT version FROM stopay_migrations ORDER BY 1")]
        assert versions == [m.version for m in migrate.migrations()]
    finally:
        await conn.close()


async def test_concurrent_first_migrations_apply_once(server_dsn) -> None:
    from stopay.store.embedded import with_database

    name = f"stopay_mig_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        conns = [await asyncpg.connect(with_database(server_dsn, name)) for _ in range(3)]
        applied = await asyncio.gather(*(migrate.migrate(c) for c in conns))
        for c in conns:
            await c.close()
        assert sorted(map(len, applied)) == [0, 0, len(migrate.migrations())]
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def test_refuses_a_schema_newer_than_the_code(dsn) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("INSERT INTO stopay_migrations (version, name, checksum) VALUES (999, 'future', 'x')")
        with pytest.raises(SchemaTooNew, match="999"):
            await migrate.migrate(conn)
    finally:
        await conn.close()


async def test_refuses_an_applied_migration_that_changed(dsn) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("UPDATE stopay_migrations SET checksum = 'edited' WHERE version = 1")
        with pytest.raises(MigrationDrift):
            await migrate.migrate(conn)
    finally:
        await conn.close()


async def test_database_transitions_equal_the_domain_state_machine(pool) -> None:
    rows = await pool.fetch("SELECT from_status, to_status FROM freeze_order_transitions")
    assert {(OrderStatus(r[0]), OrderStatus(r[1])) for r in rows} == set(TRANSITIONS)


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ("held", "queued"),
        ("held", "pending"),
        ("rejected", "held"),
        ("pending", "queued"),
        ("moved_on", "held"),
        ("freezing", "queued"),
        ("pending", "freezing"),
        ("held", "freezing"),
    ],
)
async def test_database_refuses_moving_an_order_backwards(pool, first, then) -> None:
    # The freeze order (statement, then freeze); its stop never passes through freezing.
    _, case_id = await submit(pool, ("ICBC", "6222020200009999999", 5000))
    held = 5000 if first == "held" else 0
    resolved = "NULL" if first in ("pending", "freezing") else "now()"
    await pool.execute(
        f"UPDATE freeze_orders SET status = $1, held_minor = $2, freeze_minor = 5000, resolved_at = {resolved}"
        " WHERE case_id = $3 AND kind = 'freeze'",
        first,
        held,
        case_id,
    )
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(
            "UPDATE freeze_orders SET status = $1, held_minor = 0, resolved_at = NULL WHERE case_id = $2"
            " AND kind = 'freeze'",
            then,
            case_id,
        )


async def test_database_refuses_holding_more_than_asked_and_deleting_orders(pool) -> None:
    _, case_id = await submit(pool, ("ICBC", "6222020200009999999", 5000))
    await pool.execute(
        "UPDATE freeze_orders SET status = 'freezing', freeze_minor = 4000 WHERE case_id = $1 AND kind = 'freeze'",
        case_id,
    )
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(
            "UPDATE freeze_orders SET status = 'held', held_minor = 4001, resolved_at = now()"
            " WHERE case_id = $1 AND kind = 'freeze'",
            case_id,
        )
    with pytest.raises(asyncpg.CheckViolationError):  # the asked amount never changes once set
        await pool.execute(
            "UPDATE freeze_orders SET freeze_minor = 5000 WHERE case_id = $1 AND kind = 'freeze'", case_id
        )
    # A stop is sized from the start (5000, the amount reported): it holds no more than that either,
    # and its amount never changes.
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(
            "UPDATE freeze_orders SET status = 'held', held_minor = 5001, resolved_at = now()"
            " WHERE case_id = $1 AND kind = 'stop'",
            case_id,
        )
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute("UPDATE freeze_orders SET freeze_minor = 4000 WHERE case_id = $1 AND kind = 'stop'", case_id)
    with pytest.raises(asyncpg.CheckViolationError):  # freezing needs an amount
        await pool.execute(
            "INSERT INTO freeze_orders (case_id, order_id, level, bank_code, account_number, holder_name, currency,"
            " requested_minor, incoming, idempotency_key, status) VALUES ($1, gen_random_uuid(), 2, 'ABC',"
            " '6228480000001', 'x', 'CNY', 10, '[]', 'k', 'freezing')",
            case_id,
        )
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute("DELETE FROM freeze_orders WHERE case_id = $1", case_id)


async def test_case_events_are_append_only(pool) -> None:
    _, case_id = await submit(pool, ("ICBC", "6222020200009999999", 5000))
    # case.accepted, and order.queued for the freeze order and for its stop.
    assert await pool.fetchval("SELECT count(*) FROM case_events WHERE case_id = $1", case_id) == 3
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await pool.execute("UPDATE case_events SET actor = 'someone else'")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await pool.execute("DELETE FROM case_events")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await pool.execute("TRUNCATE case_events")


async def test_two_owners_never_claim_the_same_order(pool) -> None:
    for n in range(10):
        await submit(pool, ("ICBC", f"62220202000099{n:05d}", 1000), ("ABC", f"62284800000099{n:05d}", 1000))
    # 20 freeze orders and their 20 stops.
    a, b = await asyncio.gather(store.claim(pool, "a", 30, 30), store.claim(pool, "b", 30, 30))
    ids_a, ids_b = {o.order_id for o in a}, {o.order_id for o in b}
    assert len(ids_a) + len(ids_b) == 40 and not ids_a & ids_b
    assert [o.kind for o in a + b].count(OrderKind.STOP) == 20
    assert await store.claim(pool, "c", 50, 30) == []


def NO_WAIT(attempts: int) -> float:
    return 0.0


async def test_an_expired_lease_is_claimed_again_and_the_old_owner_cannot_record(pool) -> None:
    entry, case_id = await submit(pool, ("ICBC", "6222020200009999999", 5000))
    # As after its statement, its stop refused: the freeze order sized, with the freeze due and in
    # flight at the account (the stop's no longer is).
    await pool.execute("UPDATE freeze_orders SET status = 'rejected', resolved_at = now() WHERE kind = 'stop'")
    await pool.execute("UPDATE freeze_orders SET status = 'freezing', freeze_minor = 5000 WHERE kind = 'freeze'")
    await pool.execute(
        "UPDATE trail_accounts SET left_minor = 5000, in_flight_minor = 5000 WHERE case_id = $1"
        " AND bank_code = 'ICBC' AND account_number = '6222020200009999999'",
        case_id,
    )
    (first,) = await store.claim(pool, "dead-replica", 10, 30)
    assert (first.status, first.freeze_minor, first.rule) == ("freezing", 5000, "libr")
    assert first.attempts == 1 and first.idempotency_key == f"{case_id}:{first.order_id}"
    assert await store.claim(pool, "other", 10, 30) == []
    await move_clock(pool, timedelta(seconds=31))  # the lease ran out, by the database clock
    (again,) = await store.claim(pool, "other", 10, 30)
    assert (again.order_id, again.idempotency_key, again.attempts) == (first.order_id, first.idempotency_key, 2)
    held = store.Outcome(case_id, first.order_id, OrderStatus.HELD, held_minor=5000, answer_code="ACCR")
    late = Settled(first, held)  # the answer to the first claim, arriving after the takeover
    assert await apply_answers(pool, "dead-replica", [late], NO_WAIT) == []
    assert await apply_answers(pool, "other", [late], NO_WAIT) == []
    assert (
        await pool.fetchval("SELECT status FROM freeze_orders WHERE kind = 'freeze'") == "freezing"
    )  # neither applies it
    answer = Settled(again, held)
    await apply_answers(pool, "other", [answer, answer], NO_WAIT)  # a duplicate in the batch too
    await apply_answers(pool, "other", [answer], NO_WAIT)  # and once more: applied once only
    row = await pool.fetchrow(
        "SELECT status, held_minor, lease_owner, resolved_at FROM freeze_orders WHERE kind = 'freeze'"
    )
    assert (row["status"], row["held_minor"], row["lease_owner"]) == ("held", 5000, None)
    assert row["resolved_at"] is not None
    assert await pool.fetchval("SELECT count(*) FROM bank_answers") == 1
    account = await pool.fetchrow("SELECT held_minor, in_flight_minor FROM trail_accounts")
    assert (account["held_minor"], account["in_flight_minor"]) == (5000, 0)


async def test_a_rescheduled_order_waits_for_its_time(pool) -> None:
    entry, case_id = await submit(pool, ("ICBC", "6222020200009999999", 5000))
    claimed = await store.claim(pool, "r", 10, 30)  # the freeze order and its stop, at the same bank
    assert sorted(o.kind for o in claimed) == sorted([OrderKind.FREEZE, OrderKind.STOP])
    stale = [store.Retry(case_id, o.order_id, o.attempts - 1, 0.0, "from an earlier claim") for o in claimed]
    assert await store.reschedule(pool, "r", stale, "d") == 0
    assert (
        await store.reschedule(
            pool, "r", [store.Retry(case_id, o.order_id, o.attempts, 60, "bank down") for o in claimed], "d"
        )
        == 2
    )
    assert await store.claim(pool, "r", 10, 30) == []
    await move_clock(pool, timedelta(seconds=59))
    assert await store.claim(pool, "r", 10, 30) == []
    await move_clock(pool, timedelta(seconds=61))
    again = await store.claim(pool, "r", 10, 30)
    assert {o.order_id for o in again} == {o.order_id for o in claimed}
    assert [o.attempts for o in again] == [2, 2]
    details = [r[0] for r in await pool.fetch("SELECT detail FROM freeze_orders")]
    assert details == ["bank down", "bank down"]
    kinds = [r[0] for r in await pool.fetch("SELECT kind FROM case_events ORDER BY seq")]
    assert kinds == ["case.accepted", "order.queued", "order.queued", "order.retry_scheduled", "order.retry_scheduled"]


async def test_an_entry_is_written_whole(pool) -> None:
    entry, case_id = await submit(
        pool,
        ("ICBC", "6222020200009999999", 5000),
        ("ICBC", "6222020200009999999", 700),
        ("ABC", "6228480000009999999", 300),
    )
    planned = {o.order_id: o.requested_minor for o in level1_orders(entry)}
    rows = await pool.fetch(
        "SELECT order_id, requested_minor, status FROM freeze_orders WHERE case_id = $1 AND kind = 'freeze'", case_id
    )
    assert (
        {r["order_id"]: r["requested_minor"] for r in rows}
        == planned
        == {
            next(o.order_id for o in level1_orders(entry) if o.account.bank_code == "ICBC"): 5700,
            next(o.order_id for o in level1_orders(entry) if o.account.bank_code == "ABC"): 300,
        }
    )
    assert {r["status"] for r in rows} == {"queued"}
    # Each with its stop, which asks at once to freeze the amount reported, counted in flight there.
    stops = await pool.fetch(
        "SELECT order_id, parent_order_id, requested_minor, freeze_minor, idempotency_key, status FROM freeze_orders"
        " WHERE case_id = $1 AND kind = 'stop'",
        case_id,
    )
    assert {tuple(r.values()) for r in stops} == {
        (stop_of(case_id, order_id), order_id, amount, amount, f"{case_id}:{order_id}/stop", "queued")
        for order_id, amount in planned.items()
    }
    accounts = await pool.fetch(
        "SELECT bank_code, account_number, in_flight_minor FROM trail_accounts WHERE case_id = $1", case_id
    )
    assert {tuple(r.values()) for r in accounts} == {
        ("ICBC", "6222020200009999999", 5700),
        ("ABC", "6228480000009999999", 300),
    }
    assert await pool.fetchval("SELECT count(*) FROM entry_transfers WHERE case_id = $1", case_id) == 3
    assert await pool.fetchval("SELECT reported_minor FROM cases WHERE case_id = $1", case_id) == 6000


async def test_a_statement_older_than_one_applied_is_asked_again(pool) -> None:
    from datetime import timedelta

    from bank_adapters.protocol import AnswerStatus, Statement, StatementAnswer, StatementLine
    from stopay.service.answers.apply import Traced

    entry, case_id = await submit(pool, ("ICBC", "6222020200009999999", 5000))
    (first,) = [o for o in await store.claim(pool, "r", 10, 30) if o.kind is OrderKind.FREEZE]
    t0 = entry.transfers[0].transferred_at
    credit = StatementLine(1, t0, "credit", 5000, "T0")
    newer = Statement(0, (credit, StatementLine(9, t0 + timedelta(minutes=2), "debit", 1000, "OUT", exit=None)))
    assert (
        await apply_answers(pool, "r", [Traced(first, StatementAnswer(AnswerStatus.ACCR, statement=newer))], NO_WAIT)
        == []
    )
    row = await pool.fetchrow("SELECT left_minor, seen_seq FROM trail_accounts")
    assert (row["left_minor"], row["seen_seq"]) == (4000, 9)
    # A second order into the same account, answered with a statement taken before that debit.
    await pool.execute(
        "INSERT INTO freeze_orders (case_id, order_id, level, bank_code, account_number, holder_name, currency,"
        " requested_minor, incoming, idempotency_key) SELECT case_id, gen_random_uuid(), 2, bank_code, account_number,"
        " holder_name, currency, 0, incoming, 'k2' FROM freeze_orders WHERE case_id = $1 AND kind = 'freeze'",
        case_id,
    )
    claimed = await store.claim(pool, "r", 10, 30)
    (second,) = [o for o in claimed if o.kind is OrderKind.FREEZE]
    assert second.status == "queued"
    older = Statement(0, (credit,))
    (retry,) = await apply_answers(
        pool, "r", [Traced(second, StatementAnswer(AnswerStatus.ACCR, statement=older))], NO_WAIT
    )
    assert "older" in retry.detail and retry.order_id == second.order_id
    assert await pool.fetchval("SELECT left_minor FROM trail_accounts") == 4000  # not undone

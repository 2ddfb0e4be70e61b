"""The SQL side of freeze orders agrees with the domain: the database's one definition of an open
order (freeze_order_open) is stopay.domain.orders.OPEN, its kinds and statuses are the enums', the
claim still finds due orders through its partial index, and every jsonb array a statement reads with
jsonb_to_recordset has a row class whose fields are the columns it declares."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import fields
from importlib.resources import files

import asyncpg
import pytest

from stopay.domain.accounts import AccountKey, CaseAccount
from stopay.domain.orders import OPEN, UNRESOLVED, OrderKind, OrderStatus, RetryRefused
from stopay.store.entries import OrderRow, TransferRow
from stopay.store.holds import CaseEventRow, HoldEventRow, HoldOrderRow, PayingHoldRow, ReturnOrderRow
from stopay.store.orders import Claim, Retry
from stopay.store.queries import query
from stopay.store.trail import (
    AccountChange,
    AccountToLock,
    AnswerRecord,
    EventRecord,
    ExitChange,
    HoldOpRow,
    NewOrder,
    OrderChange,
    ReviewRequest,
)

# (SQL file, parameter) -> the row class of the jsonb array passed there.
ROW_CLASSES: dict[tuple[str, str], type] = {
    ("trail_apply", "orders"): OrderChange,
    ("trail_apply", "created"): NewOrder,
    ("trail_apply", "accounts"): AccountChange,
    ("trail_apply", "exits"): ExitChange,
    ("trail_apply", "answers"): AnswerRecord,
    ("trail_apply", "events"): EventRecord,
    ("trail_apply", "holds"): HoldOpRow,
    ("trail_apply", "reviews"): ReviewRequest,
    ("trail_lock", "accounts"): AccountToLock,
    ("trail_rows_at", "accounts"): AccountKey,
    ("trail_rows", "accounts"): CaseAccount,
    ("held_elsewhere", "accounts"): CaseAccount,
    ("trail_orders", "claims"): Claim,
    ("extend_leases", "claims"): Claim,
    ("reschedule_orders", "retries"): Retry,
    ("submit_entry", "transfers"): TransferRow,
    ("submit_entry", "orders"): OrderRow,
    ("hold_write", "orders"): HoldOrderRow,
    ("hold_write", "events"): HoldEventRow,
    ("return_write", "paying"): PayingHoldRow,
    ("return_write", "orders"): ReturnOrderRow,
    ("return_write", "events"): CaseEventRow,
    ("approval_request", "events"): CaseEventRow,
}

_RECORDSET = re.compile(r"jsonb_to_recordset\(:(\w+)::jsonb\)\s+AS\s+\w+\s*\(([^)]*)\)", re.DOTALL)


def declared_columns(name: str) -> list[tuple[str, list[str]]]:
    """Each ``jsonb_to_recordset(:param::jsonb) AS x(column type, ...)`` of sql/<name>.sql."""
    text = (files("stopay.store") / "sql" / f"{name}.sql").read_text(encoding="utf-8")
    return [(m[1], [c.split()[0] for c in m[2].split(",")]) for m in _RECORDSET.finditer(text)]


@pytest.mark.parametrize("name", sorted({name for name, _ in ROW_CLASSES}))
def test_each_row_class_is_the_column_list_its_sql_declares(name: str) -> None:
    declared = declared_columns(name)
    assert declared, f"{name}.sql reads no jsonb array"
    for param, columns in declared:
        row_class = ROW_CLASSES.get((name, param))
        assert row_class is not None, f"{name}.sql :{param} has no row class"
        assert [f.name for f in fields(row_class)] == columns, f"{name}.sql :{param}"


def test_every_jsonb_array_a_statement_reads_has_its_row_class() -> None:
    for path in (files("stopay.store") / "sql").iterdir():
        name = path.name.removesuffix(".sql")
        for param, _ in declared_columns(name):
            assert (name, param) in ROW_CLASSES, f"{name}.sql :{param} has no row class in this test"


async def test_the_database_s_open_orders_are_the_domain_s(pool) -> None:
    rows = await pool.fetch(
        "SELECT s, freeze_order_open(s) AS open FROM unnest($1::text[]) AS s", [s.value for s in OrderStatus]
    )
    assert {OrderStatus(r["s"]) for r in rows if r["open"]} == OPEN
    assert len(rows) == len(OrderStatus)
    rows = await pool.fetch(
        "SELECT s, freeze_order_unresolved(s) AS u FROM unnest($1::text[]) AS s", [s.value for s in OrderStatus]
    )
    assert {OrderStatus(r["s"]) for r in rows if r["u"]} == UNRESOLVED


async def test_the_database_s_kinds_and_statuses_are_the_enums(pool) -> None:
    checks = dict(
        await pool.fetch(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conname IN ('freeze_orders_kind_check', 'freeze_orders_status_check')"
        )
    )
    assert set(re.findall(r"'(\w+)'", checks["freeze_orders_kind_check"])) == {k.value for k in OrderKind}
    assert set(re.findall(r"'(\w+)'", checks["freeze_orders_status_check"])) == {s.value for s in OrderStatus}


async def test_the_claim_finds_due_orders_through_the_partial_index(pool) -> None:
    q = query("claim_orders")
    args = q.args(limit=10, owner="r", lease_s=30.0, deadline_s=3600.0, skip_banks=[], banks=None)
    async with pool.acquire() as conn, conn.transaction():
        # On a table this small a sequential scan is cheaper: forbid it, so only an index that the
        # query's predicate implies can serve.
        await conn.execute("SET LOCAL enable_seqscan = off")
        plan = await conn.fetchval("EXPLAIN (FORMAT JSON) " + q.text, *args)
    assert '"Index Name": "freeze_orders_due"' in json.dumps(plan)


async def test_the_database_retries_only_an_undeliverable_order_whoever_writes_the_retry(pool) -> None:
    from stopay.api.validation import entry_from_request
    from stopay.domain.clock import SYSTEM_CLOCK
    from stopay.domain.trail import Limits
    from stopay.store import entries
    from stopay.store import orders as store
    from tests.entries import simple_request

    entry = entry_from_request(simple_request(("ICBC", "6222020200007777777", 5000)), SYSTEM_CLOCK.now())
    case_id, _ = await entries.submit_entry(pool, entry, Limits(), "test")
    order_id = await pool.fetchval("SELECT order_id FROM freeze_orders WHERE case_id = $1 AND kind = 'freeze'", case_id)
    write = query("retry_order")
    args = write.args(
        order_id=order_id, new_order_id=uuid.uuid4(), actor="t", puts_back=False, going_out_minor=0, in_flight_minor=0
    )
    # Queued: the store refuses it, and so does the database to a writer that skips the domain.
    assert await store.retry(pool, order_id, "operator:t") is RetryRefused.NOT_UNDELIVERABLE
    with pytest.raises(asyncpg.CheckViolationError, match="not undeliverable"):
        await pool.fetchrow(write.text, *args)
    await pool.execute(
        "UPDATE freeze_orders SET status = 'undeliverable', reason_code = 'NOAS', resolved_at = now()"
        " WHERE case_id = $1 AND order_id = $2",
        case_id,
        order_id,
    )
    retried = await store.retry(pool, order_id, "operator:t")
    assert isinstance(retried, tuple) and retried[0] == case_id
    assert await store.retry(pool, order_id, "operator:t") is RetryRefused.RETRIED_ALREADY  # once only
    assert await store.retry(pool, uuid.uuid4(), "operator:t") is RetryRefused.NOT_FOUND


async def test_an_extension_is_retried_only_while_its_hold_lasts_whoever_writes_the_retry(pool) -> None:
    from stopay.api.validation import entry_from_request
    from stopay.domain.clock import SYSTEM_CLOCK
    from stopay.domain.trail import Limits
    from stopay.store import entries
    from stopay.store import orders as store
    from tests.entries import simple_request

    entry = entry_from_request(simple_request(("ICBC", "6222020200007778888", 5000)), SYSTEM_CLOCK.now())
    case_id, _ = await entries.submit_entry(pool, entry, Limits(), "test")
    extend_id = await pool.fetchval(
        "INSERT INTO freeze_orders (case_id, order_id, kind, level, bank_code, account_number, holder_name,"
        " currency, requested_minor, incoming, idempotency_key, params)"
        " SELECT case_id, gen_random_uuid(), 'extend', level, bank_code, account_number, holder_name, currency,"
        " 0, incoming, idempotency_key || ':extend', params FROM freeze_orders WHERE case_id = $1 AND kind = 'freeze'"
        " RETURNING order_id",
        case_id,
    )
    await pool.execute(
        "UPDATE freeze_orders SET status = 'undeliverable', reason_code = 'NOAS', resolved_at = now()"
        " WHERE case_id = $1 AND order_id = $2",
        case_id,
        extend_id,
    )
    # No hold lasts on the account (none was ever placed): the domain refuses, and so does the database.
    assert await store.retry(pool, extend_id, "operator:t") is RetryRefused.HOLD_ENDED
    write = query("retry_order")
    args = write.args(
        order_id=extend_id, new_order_id=uuid.uuid4(), actor="t", puts_back=False, going_out_minor=0, in_flight_minor=0
    )
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.fetchrow(write.text, *args)


async def test_a_retried_stop_asks_for_its_freeze_again_back_in_flight(pool) -> None:
    from stopay.api.validation import entry_from_request
    from stopay.domain.clock import SYSTEM_CLOCK
    from stopay.domain.orders import REFUSED
    from stopay.domain.trail import Limits
    from stopay.service.answers.apply import Settled, apply_answers
    from stopay.store import entries
    from stopay.store import orders as store
    from tests.entries import simple_request

    account = ("ICBC", "6222020200007779999")
    entry = entry_from_request(simple_request((*account, 5000)), SYSTEM_CLOCK.now())
    case_id, _ = await entries.submit_entry(pool, entry, Limits(), "test")

    async def in_flight() -> int:
        return await pool.fetchval(
            "SELECT in_flight_minor FROM trail_accounts WHERE case_id = $1 AND bank_code = $2 AND account_number = $3",
            case_id,
            *account,
        )

    assert await in_flight() == 5000  # the stop's freeze, out from the entry on
    (stop,) = [o for o in await store.claim(pool, "r", 10, 30) if o.kind is OrderKind.STOP]
    # The bank refuses the request itself: undeliverable, and its freeze is no longer in flight.
    refused = store.Outcome(case_id, stop.order_id, OrderStatus.UNDELIVERABLE, reason_code=REFUSED, detail="refused")
    assert await apply_answers(pool, "r", [Settled(stop, refused)], lambda attempts: 0.0) == []
    assert await in_flight() == 0
    retried = await store.retry(pool, stop.order_id, "operator:t")
    assert isinstance(retried, tuple) and retried[0] == case_id
    row = await pool.fetchrow(
        "SELECT kind, status, parent_order_id, requested_minor, freeze_minor, idempotency_key, retry_of"
        " FROM freeze_orders WHERE case_id = $1 AND order_id = $2",
        case_id,
        retried[1],
    )
    # A stop again, sized as the first (the database holds a stop to that), under the same key.
    assert dict(row) == {
        "kind": "stop",
        "status": "queued",
        "parent_order_id": stop.parent_order_id,
        "requested_minor": 5000,
        "freeze_minor": 5000,
        "idempotency_key": stop.idempotency_key,
        "retry_of": stop.order_id,
    }
    assert stop.idempotency_key == f"{case_id}:{stop.parent_order_id}/stop"
    assert await in_flight() == 5000  # back in flight: a statement meanwhile does not ask for it twice
    failed = await pool.fetchrow("SELECT status, freeze_minor FROM freeze_orders WHERE order_id = $1", stop.order_id)
    assert (failed["status"], failed["freeze_minor"]) == ("undeliverable", 5000)  # stays as it was
    assert await store.retry(pool, stop.order_id, "operator:t") is RetryRefused.RETRIED_ALREADY
    assert await in_flight() == 5000  # once only
    (again,) = [o for o in await store.claim(pool, "r", 10, 30) if o.order_id == retried[1]]
    assert (again.kind, again.status, again.freeze_minor) == (OrderKind.STOP, OrderStatus.QUEUED, 5000)


async def test_a_stop_given_up_unserved_is_no_longer_in_flight(pool) -> None:
    # No replica serves the bank: the freeze order and its stop are given up as undeliverable, and
    # nothing asks to freeze there any more. Retried once the bank is served, the statement shows
    # the victim's money there, and the freeze order asks to freeze it itself.
    from bank_adapters.protocol import AnswerStatus, Statement, StatementAnswer, StatementLine
    from stopay.api.validation import entry_from_request
    from stopay.domain.clock import SYSTEM_CLOCK
    from stopay.domain.orders import NO_ADAPTER
    from stopay.domain.trail import Limits
    from stopay.service.answers.apply import Traced, apply_answers
    from stopay.store import entries, replicas
    from stopay.store import orders as store
    from tests.entries import simple_request

    entry = entry_from_request(simple_request(("ICBC", "6222020200007770000", 5000)), SYSTEM_CLOCK.now())
    case_id, _ = await entries.submit_entry(pool, entry, Limits(), "test")
    assert len(await replicas.give_up_unserved(pool, 10, 3600.0, NO_ADAPTER, "dispatcher:t")) == 2
    assert await pool.fetchval("SELECT in_flight_minor FROM trail_accounts WHERE case_id = $1", case_id) == 0
    freeze_id = await pool.fetchval(
        "SELECT order_id FROM freeze_orders WHERE case_id = $1 AND kind = 'freeze'", case_id
    )
    retried = await store.retry(pool, freeze_id, "operator:t")
    assert isinstance(retried, tuple)
    (order,) = await store.claim(pool, "r", 10, 30)
    transfer = entry.transfers[0]
    statement = Statement(0, (StatementLine(1, transfer.transferred_at, "credit", 5000, transfer.txn_id),))
    traced = Traced(order, StatementAnswer(AnswerStatus.ACCR, statement=statement))
    assert await apply_answers(pool, "r", [traced], lambda attempts: 0.0) == []
    row = await pool.fetchrow("SELECT status, freeze_minor FROM freeze_orders WHERE order_id = $1", retried[1])
    assert (row["status"], row["freeze_minor"]) == ("freezing", 5000)


async def test_giving_up_a_stop_waits_for_its_trail_row_before_taking_the_chain_head(pool) -> None:
    # An operator's retry locks an account's trail row, then the case's chain head. Giving up
    # unserved stops must take them in the same order: while another transaction holds the row,
    # the give-up waits for it without holding the head (else the two deadlock).
    import asyncio

    from stopay.api.validation import entry_from_request
    from stopay.domain.clock import SYSTEM_CLOCK
    from stopay.domain.orders import NO_ADAPTER
    from stopay.domain.trail import Limits
    from stopay.store import entries, replicas
    from tests.conftest import eventually
    from tests.entries import simple_request

    entry = entry_from_request(simple_request(("ICBC", "6222020200007771111", 5000)), SYSTEM_CLOCK.now())
    case_id, _ = await entries.submit_entry(pool, entry, Limits(), "test")
    async with pool.acquire() as holder, pool.acquire() as prober:
        tx = holder.transaction()
        await tx.start()
        await holder.execute("SELECT 1 FROM trail_accounts WHERE case_id = $1 FOR UPDATE", case_id)
        giving_up = asyncio.create_task(replicas.give_up_unserved(pool, 10, 3600.0, NO_ADAPTER, "dispatcher:t"))
        try:

            async def waiting_for_a_row() -> bool:
                return bool(
                    await prober.fetchval(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        " AND query LIKE '-- Gives up, as undeliverable%'"
                    )
                )

            await eventually(waiting_for_a_row)
            # The head is free: the give-up has not taken it while it waits.
            async with prober.transaction():
                await prober.execute("SET LOCAL lock_timeout = '1s'")
                head = await prober.fetchval(
                    "SELECT case_id FROM case_chain_heads WHERE case_id = $1 FOR UPDATE NOWAIT", case_id
                )
            assert head == case_id
        finally:
            await tx.rollback()
        assert len(await giving_up) == 2  # the freeze order and its stop, once the row is free

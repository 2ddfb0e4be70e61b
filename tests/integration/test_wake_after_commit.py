"""Waking the dispatchers after an entry commits (migration 0019): the entry's statement stores its
orders without a NOTIFY, since notifying transactions commit one disk flush at a time; the service
wakes this process's dispatchers at once and every process's with one NOTIFY after the commit.
Every other writer of orders still notifies from the trigger."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from stopay.api.validation import entry_from_request
from stopay.domain.clock import SYSTEM_CLOCK
from stopay.domain.entry import Entry
from stopay.domain.trail import Limits
from stopay.service.entries import Entries
from stopay.store import entries
from stopay.store.notifications import ORDERS, Notifications
from tests.conftest import eventually
from tests.entries import simple_request

MARK = "mark"


class Heard:
    """Every notification on the orders and case channels, on a connection of its own."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.items: list[tuple[str, str]] = []

    def _on(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        self.items.append((channel, payload))

    async def start(self) -> None:
        await self.conn.add_listener(ORDERS, self._on)
        await self.conn.add_listener("stopay_case", self._on)

    async def until_mark(self, pool: asyncpg.Pool) -> list[tuple[str, str]]:
        """What was heard before a mark notified now: PostgreSQL delivers in commit order, so
        anything an earlier commit notified arrives before the mark."""
        await pool.execute("SELECT pg_notify($1, $2)", ORDERS, MARK)
        await eventually(lambda: _true((ORDERS, MARK) in self.items))
        heard = self.items[: self.items.index((ORDERS, MARK))]
        self.items.clear()
        return heard


async def _true(value: bool) -> bool:
    return value


@pytest.fixture
async def heard(dsn: str) -> AsyncIterator[Heard]:
    conn = await asyncpg.connect(dsn)
    listening = Heard(conn)
    await listening.start()
    yield listening
    await conn.close()


def _entry(*payees: tuple[str, str, int]) -> Entry:
    return entry_from_request(simple_request(*payees), SYSTEM_CLOCK.now())


async def test_an_entrys_statement_stores_its_orders_without_a_notify(pool, heard) -> None:
    submitted = await entries.submit(pool, _entry(("ICBC", "6222020200001111111", 5000)), Limits(), "test")
    assert not submitted.duplicate
    # The freeze order and its stop.
    assert await pool.fetchval("SELECT count(*) FROM freeze_orders WHERE case_id = $1", submitted.case_id) == 2
    assert await heard.until_mark(pool) == []
    # The setting ended with the entry's transaction: the same connection's next writer notifies.
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT current_setting('stopay.wake_after_commit', true)") in (None, "")


async def test_every_other_writer_of_orders_still_notifies(pool, heard) -> None:
    submitted = await entries.submit(pool, _entry(("ABC", "6228480010009876543", 700)), Limits(), "test")
    await pool.execute(
        "UPDATE freeze_orders SET status = 'freezing', freeze_minor = 700 WHERE case_id = $1 AND kind = 'freeze'",
        submitted.case_id,
    )
    assert await heard.until_mark(pool) == [(ORDERS, ""), ("stopay_case", str(submitted.case_id))]


async def test_the_service_wakes_its_dispatchers_at_once_and_the_others_after_the_commit(dsn, pool, heard) -> None:
    notifications = Notifications(dsn)
    notifications.start()
    try:
        with notifications.orders() as local:
            await eventually(lambda: _true(notifications._listening is not None))
            service = Entries(pool, notifications, Limits())
            submitted = await asyncio.gather(
                *(service.submit(_entry(("CCB", f"62170000100{i:08d}", 900)), "test") for i in range(5))
            )
            assert not any(s.duplicate for s in submitted)
            assert local.is_set()  # this process's dispatchers: at once, without waiting for a NOTIFY
            await eventually(lambda: _true(notifications._waking is not None and notifications._waking.done()))
            woken = await heard.until_mark(pool)
            assert woken and set(woken) == {(ORDERS, "")}  # the others: no more NOTIFYs than entries
            assert len(woken) <= len(submitted)

            # A duplicate opens nothing and wakes no one.
            entry = _entry(("BOC", "6217000010099999999", 900))
            assert not (await service.submit(entry, "test")).duplicate
            await eventually(lambda: _true(notifications._waking is not None and notifications._waking.done()))
            assert await heard.until_mark(pool) == [(ORDERS, "")]
            assert (await service.submit(entry, "test")).duplicate
            assert await heard.until_mark(pool) == []
    finally:
        await notifications.close()


async def test_calls_made_while_a_notify_is_on_its_way_share_the_next(dsn, pool, heard) -> None:
    notifications = Notifications(dsn)
    notifications.start()
    try:
        await eventually(lambda: _true(notifications._listening is not None))
        for _ in range(5):  # a burst of entries committed in one turn of the event loop
            notifications.orders_queued()
        await eventually(lambda: _true(notifications._waking is not None and notifications._waking.done()))
        assert await heard.until_mark(pool) == [(ORDERS, "")]
    finally:
        await notifications.close()


async def test_without_a_listening_connection_no_notify_is_sent_and_nothing_fails(pool, heard) -> None:
    notifications = Notifications("postgresql://nobody@127.0.0.1:1/none")  # never started
    with notifications.orders() as local:
        notifications.orders_queued()
        assert local.is_set()
    await eventually(lambda: _true(notifications._waking is not None and notifications._waking.done()))
    assert notifications._waking is not None and notifications._waking.exception() is None
    assert await heard.until_mark(pool) == []


async def test_a_steady_stream_of_entries_notifies_at_most_once_every_wake_interval(dsn, pool, heard) -> None:
    notifications = Notifications(dsn, wake_every_s=3600)
    notifications.start()
    try:
        await eventually(lambda: _true(notifications._listening is not None))
        with notifications.orders() as local:
            notifications.orders_queued()  # the first goes at once
            await eventually(lambda: _true((ORDERS, "") in heard.items))
            local.clear()
            for _ in range(3):  # within the interval: this process's dispatchers at once, the others later
                notifications.orders_queued()
                assert local.is_set()
            assert await heard.until_mark(pool) == [(ORDERS, "")]
            assert notifications._waking is not None and not notifications._waking.done()
    finally:
        await notifications.close()

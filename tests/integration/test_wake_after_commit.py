"""Waking the dispatchers after an entry commits (migration 0019): the entry's statement stores its
orders without a NOTIFY, since notifying transactions commit one disk flush at a time; the service
wakes this process's dispatchers at once and every process's with one NOTIFY after the commit.
Every other writer of orders still notifies from the trigger."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from stopay.store.notifications import ORDERS, Notifications
from tests.conftest import eventually

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

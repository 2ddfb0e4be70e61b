"""One LISTEN connection per process that wakes dispatchers and case watchers.

PostgreSQL notifies ``stopay_orders`` when new orders are queued and ``stopay_case`` (payload: the
case id) when a case changes. Notifications are a shortcut, never the only path: dispatchers and
watchers also poll, so a lost connection only slows them down until it is back.

A writer that stores orders with ``stopay.wake_after_commit`` on (a SubmitEntry) wakes the
dispatchers itself, after its commit, through :meth:`Notifications.orders_queued` (migration 0019
says why).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Iterator

import asyncpg
import structlog

from stopay.store.queries import query

log = structlog.get_logger(__name__)

ORDERS = "stopay_orders"
CASES = "stopay_case"


class Notifications:
    def __init__(self, dsn: str, reconnect_s: float = 2.0, wake_every_s: float = 0.005) -> None:
        """``wake_every_s``: the shortest time between two NOTIFYs of :meth:`orders_queued`."""
        self._dsn = dsn
        self._reconnect_s = reconnect_s
        self._wake_every_s = wake_every_s
        self._orders: set[asyncio.Event] = set()
        self._cases: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._listening: asyncpg.Connection | None = None  # set while LISTENing
        self._waking: asyncio.Task[None] | None = None
        self._wake_others = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="stopay-listen")

    async def close(self) -> None:
        for task in (self._waking, self._task):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def orders_queued(self) -> None:
        """Orders were committed without a NOTIFY (their writer set ``stopay.wake_after_commit``):
        wakes this process's dispatchers at once, and every process's with one NOTIFY on the
        listening connection, sent in the background. The first of a burst goes at once; the calls
        made while it is on its way, and for ``wake_every_s`` after, share the next one, so a
        steady stream of entries costs at most one NOTIFY every ``wake_every_s``. Not listening,
        none is sent: the other dispatchers find the orders when they poll."""
        for event in self._orders:
            event.set()
        self._wake_others = True
        if self._waking is None or self._waking.done():
            self._waking = asyncio.create_task(self._notify_orders(), name="stopay-wake-orders")

    async def _notify_orders(self) -> None:
        notify = query("notify_orders").text
        while self._wake_others and self._listening is not None:
            self._wake_others = False
            try:
                await self._listening.execute(notify)
            except Exception as exc:  # the listener reconnects; the dispatchers poll meanwhile
                log.warning("notify.failed", error=f"{type(exc).__name__}: {exc}")
                return
            await asyncio.sleep(self._wake_every_s)

    @contextlib.contextmanager
    def orders(self) -> Iterator[asyncio.Event]:
        """An event set whenever new orders are queued."""
        event = asyncio.Event()
        self._orders.add(event)
        try:
            yield event
        finally:
            self._orders.discard(event)

    @contextlib.contextmanager
    def case(self, case_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever the case changes."""
        event = asyncio.Event()
        self._cases[case_id].add(event)
        try:
            yield event
        finally:
            self._cases[case_id].discard(event)
            if not self._cases[case_id]:
                del self._cases[case_id]

    def _on_notify(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        targets = self._orders if channel == ORDERS else self._cases.get(payload, ())
        for event in targets:
            event.set()

    async def _run(self) -> None:
        while True:
            try:
                conn = await asyncpg.connect(self._dsn)
                try:
                    await conn.add_listener(ORDERS, self._on_notify)
                    await conn.add_listener(CASES, self._on_notify)
                    # Wake everyone once: something may have happened while not listening.
                    for event in [*self._orders, *(e for s in self._cases.values() for e in s)]:
                        event.set()
                    closed = asyncio.Event()
                    # Bound now: a late callback of an earlier connection must not end this one's wait.
                    conn.add_termination_listener(lambda _c, closed=closed: closed.set())
                    self._listening = conn
                    await closed.wait()
                finally:
                    self._listening = None
                    try:
                        await conn.close(timeout=2)
                    except Exception:  # a connection killed mid-operation cannot close politely
                        conn.terminate()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of the connection: listen again after a pause
                log.warning("listen.lost", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(self._reconnect_s)

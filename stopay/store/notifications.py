"""One LISTEN connection per process that wakes dispatchers and case watchers.

PostgreSQL notifies ``stopay_orders`` when new orders are queued and ``stopay_case`` (payload: the
case id) when a case changes. Notifications are a shortcut, never the only path: dispatchers also
poll, and the case watchers' hub (``stopay/service/watch.py``) is told each time the connection is
(re)established, when anything may have changed unseen, and sweeps its cases slowly besides.

A writer that stores orders with ``stopay.wake_after_commit`` on (a SubmitEntry) wakes the
dispatchers itself, after its commit, through :meth:`Notifications.orders_queued` (migration 0019
says why).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

import asyncpg
import structlog

from stopay.store.queries import query

log = structlog.get_logger(__name__)

ORDERS = "stopay_orders"
CASES = "stopay_case"


class Notifications:
    def __init__(self, dsn: str, reconnect_s: float = 2.0, wake_every_s: float = 0.005, check_s: float = 5.0) -> None:
        """``wake_every_s``: the shortest time between two NOTIFYs of :meth:`orders_queued`;
        ``check_s``: how often the listening connection is asked whether its server is still there
        and still the primary (after a failover, notifications come from the new primary only)."""
        self._dsn = dsn
        self._reconnect_s = reconnect_s
        self._check_s = check_s
        self._using = asyncio.Lock()  # one operation at a time on the listening connection
        self._wake_every_s = wake_every_s
        self._orders: set[asyncio.Event] = set()
        self._cases: set[Callable[[str | None], None]] = set()
        self._task: asyncio.Task[None] | None = None
        # LISTEN connections established so far; whether one is up now.
        self.connections = 0
        self.listening = False
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
                async with self._using:
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
    def cases(self, changed: Callable[[str | None], None]) -> Iterator[None]:
        """Calls ``changed(case_id)`` whenever a case changes, and ``changed(None)`` each time the
        LISTEN connection is established: what changed while nobody listened was not notified."""
        self._cases.add(changed)
        try:
            yield
        finally:
            self._cases.discard(changed)

    def _on_notify(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        if channel == ORDERS:
            for event in self._orders:
                event.set()
        else:
            for changed in list(self._cases):
                changed(payload)

    async def _run(self) -> None:
        while True:
            try:
                conn = await asyncpg.connect(self._dsn)
                try:
                    await conn.add_listener(ORDERS, self._on_notify)
                    await conn.add_listener(CASES, self._on_notify)
                    self.connections += 1
                    self.listening = True
                    # Wake everyone once: something may have happened while not listening.
                    for event in self._orders:
                        event.set()
                    for changed in list(self._cases):
                        changed(None)
                    closed = asyncio.Event()
                    # Bound now: a late callback of an earlier connection must not end this one's wait.
                    conn.add_termination_listener(lambda _c, closed=closed: closed.set())
                    self._listening = conn
                    await self._keep(conn, closed)
                finally:
                    self.listening = False
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

    async def _keep(self, conn: asyncpg.Connection, closed: asyncio.Event) -> None:
        """Returns when the connection closes; raises when its server stops answering within
        ``check_s`` or is no longer the primary (a failover that left the connection open)."""
        probe = query("primary_probe").text
        while not closed.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(closed.wait(), self._check_s)
                return
            async with self._using:
                primary = await conn.fetchval(probe, timeout=self._check_s)
            if not primary:
                raise ConnectionError("the server is no longer the primary")

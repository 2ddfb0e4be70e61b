"""Whether a primary can be reached: one cheap probe every second on a connection of its own.

The probe connects through the DSN (with several hosts and ``target_session_attrs=read-write``,
asyncpg takes the first host that takes writes) and asks whether its server is a primary. While
none can be reached, the process reports NOT_SERVING (api/server.py); once one answers again, it
reports SERVING. The probe has its own connection, never one of the pool's, so a pool busy with
calls does not make a healthy database look lost.

A failover can leave the pool's open connections on a server that is no longer the primary: one
demoted without a restart refuses every write as read-only (StoreUnavailable). So the pool's
connections are made again, through the DSN, whenever the probe finds its server demoted or has to
connect again after losing its connection (docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import asyncpg
import structlog

from stopay.store.queries import query

log = structlog.get_logger(__name__)


class PrimaryWatch:
    def __init__(
        self,
        dsn: str,
        on_change: Callable[[bool], Awaitable[None]],
        pool: asyncpg.Pool | None = None,
        every_s: float = 1.0,
        timeout_s: float = 2.0,
    ) -> None:
        """``on_change(reachable)`` runs whenever the answer changes; ``pool``: the pool whose
        connections are renewed when the primary may have moved."""
        self._dsn = dsn
        self._on_change = on_change
        self._pool = pool
        self._every_s = every_s
        self._timeout_s = timeout_s
        self._conn: asyncpg.Connection | None = None
        self._lost = False  # a connection was lost since the pool's were last renewed
        self._task: asyncio.Task[None] | None = None
        # Set by close(): the probe loop ends at its next turn even if the cancel was lost (on
        # Python 3.11 a cancel that lands as a wait_for's inner call completes is swallowed).
        self._closing = False
        # The pool was opened on a primary a moment ago: reachable until a probe says otherwise.
        self.reachable = True
        self.probes = 0  # rounds so far: a test waits for one more instead of a fixed time

    def start(self) -> None:
        self._closing = False
        self._task = asyncio.create_task(self._run(), name="stopay-primary")

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._drop()

    async def probe(self) -> bool:
        """True when a primary answered, on the connection kept from the last probe or a new one."""
        try:
            conn = await self._connection()
            primary = await conn.fetchval(query("primary_probe").text, timeout=self._timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # out of reach in any way: the next probe connects again
            self._drop()
            if self.reachable:
                log.warning("database.probe_failed", error=f"{type(exc).__name__}: {exc}")
            return False
        if not primary:  # demoted, or the DSN reached a standby: connect again through the DSN
            log.warning("database.not_primary")
            self._drop()
            await self._renew_pool()
            return False
        return True

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._drop()
            self._conn = await asyncpg.connect(self._dsn, timeout=self._timeout_s)
            if self._lost:  # the server went away meanwhile: the pool's connections may be on the old one
                await self._renew_pool()
        return self._conn

    def _drop(self) -> None:
        """Ends the probe's connection, if any: the next probe connects through the DSN again."""
        if self._conn is not None:
            self._conn.terminate()
            self._conn = None
            self._lost = True

    async def _renew_pool(self) -> None:
        self._lost = False
        if self._pool is not None:
            # Each connection is made again through the DSN at its next acquire (asyncpg's own).
            await self._pool.expire_connections()

    async def _run(self) -> None:
        while not self._closing:
            reachable = await self.probe()
            if self._closing:
                break
            self.probes += 1
            if reachable != self.reachable:
                self.reachable = reachable
                log.warning("database.primary_found" if reachable else "database.primary_lost")
                try:
                    await self._on_change(reachable)
                except Exception:  # the watch must outlive any one report
                    log.exception("database.report_failed")
            await asyncio.sleep(self._every_s)

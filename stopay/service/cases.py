"""Reading a case: one case, a station's cases page by page, a case watched as it changes, and the
station a case belongs to (the scope the guard checks)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from stopay.domain.case import CaseEvent, CaseView
from stopay.store import cases
from stopay.store.notifications import Notifications


@dataclass(frozen=True, slots=True)
class Seen:
    """One look at a watched case: the case (None: no such case) and the events since the last look."""

    case: CaseView | None
    events: tuple[CaseEvent, ...]


class Cases:
    def __init__(self, pool: asyncpg.Pool, notifications: Notifications, poll_s: float = 1.0) -> None:
        self._pool = pool
        self._notifications = notifications
        self._poll_s = poll_s

    async def get(self, case_id: uuid.UUID) -> CaseView | None:
        return await cases.get_case(self._pool, case_id)

    async def page(
        self,
        station_id: str | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
        station_prefixes: tuple[str, ...] | None,
    ) -> list[CaseView]:
        """Newest first, after the case ``after`` names (created_at, case_id); only the stations whose
        ids start with one of ``station_prefixes`` when given."""
        return await cases.list_cases(self._pool, station_id, after, limit, station_prefixes)

    async def station_of(self, case_id: uuid.UUID) -> str | None:
        """The station that submitted the case; None when there is no such case."""
        return await cases.station_of(self._pool, case_id)

    async def watch(self, case_id: uuid.UUID) -> AsyncGenerator[Seen]:
        """Looks at the case now and again whenever it changes (woken by its notification, or after
        ``poll_s`` at the latest), for as long as the caller iterates; each look carries the events
        not yet seen. Close it (``contextlib.aclosing``) to stop listening at once."""
        last_seq = 0
        with self._notifications.case(str(case_id)) as changed:
            while True:
                changed.clear()
                case = await cases.get_case(self._pool, case_id)
                events = await cases.events_since(self._pool, case_id, last_seq) if case is not None else []
                yield Seen(case, tuple(events))
                last_seq = events[-1].seq if events else last_seq
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), self._poll_s)

"""Reading a case: one case, the cases a search finds page by page, a case watched as it changes, and the
station a case belongs to (the scope the guard checks)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import datetime

import asyncpg

from stopay.domain.case import CaseSearch, CaseView
from stopay.service.watch import Seen, WatchHub
from stopay.store import cases


class Cases:
    def __init__(self, pool: asyncpg.Pool, hub: WatchHub) -> None:
        self._pool = pool
        self._hub = hub

    async def get(self, case_id: uuid.UUID) -> CaseView | None:
        return await cases.get_case(self._pool, case_id)

    async def page(
        self,
        search: CaseSearch,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
        station_prefixes: tuple[str, ...] | None,
    ) -> list[CaseView]:
        """The cases ``search`` finds, newest first, after the case ``after`` names (created_at,
        case_id); only the stations whose ids start with one of ``station_prefixes`` when given."""
        return await cases.list_cases(self._pool, search, after, limit, station_prefixes)

    async def station_of(self, case_id: uuid.UUID) -> str | None:
        """The station that submitted the case; None when there is no such case."""
        return await cases.station_of(self._pool, case_id)

    def watch(self, case_id: uuid.UUID) -> AsyncGenerator[Seen]:
        """The case now, and again each time it changed since the last look (the last look's events
        carried along), for as long as the caller iterates; the process's watchers of one case share
        each read (``service/watch.py``). Close it (``contextlib.aclosing``) to stop at once."""
        return self._hub.watch(case_id)

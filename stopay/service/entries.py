"""Submitting an entry: the case, its transfers and its first orders, stored once."""

from __future__ import annotations

import asyncpg

from stopay.domain.entry import Entry
from stopay.domain.trail import Limits
from stopay.store import entries
from stopay.store.entries import Submitted
from stopay.store.notifications import Notifications


class Entries:
    def __init__(
        self,
        pool: asyncpg.Pool,
        notifications: Notifications,
        limits: Limits,
        same_transfer_window_s: float = 120.0,
    ) -> None:
        self._pool = pool
        self._notifications = notifications
        self._limits = limits
        self._same_transfer_window_s = same_transfer_window_s

    async def submit(self, entry: Entry, actor: str) -> Submitted:
        """Stores ``entry`` under the server's tracing policy. The same entry again is a duplicate;
        the same entry_id with another payload raises ``EntryConflict``. A transfer another case
        reported first is linked to that case, not traced again. The entry's orders are stored
        without waking the dispatchers (submit_entry.sql): they are woken here, once it committed."""
        submitted = await entries.submit(self._pool, entry, self._limits, actor, self._same_transfer_window_s)
        if not submitted.duplicate:
            self._notifications.orders_queued()
        return submitted

"""The banks stopay delivers orders to now: those a live replica's dispatcher registered."""

from __future__ import annotations

import asyncpg

from stopay.store import replicas


class Banks:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def served(self) -> list[str]:
        return await replicas.served_banks(self._pool)

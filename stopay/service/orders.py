"""An operator's retry of an order no bank could be reached for in time."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from stopay.store import orders


@dataclass(frozen=True, slots=True)
class Retried:
    case_id: uuid.UUID
    order_id: uuid.UUID  # the new order


class Orders:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def retry(self, order_id: uuid.UUID, actor: str) -> Retried | None:
        """Queues a new order in place of an undeliverable one; None when the order is not one that
        may be retried (not undeliverable, or retried already)."""
        created = await orders.retry(self._pool, order_id, actor)
        return Retried(*created) if created is not None else None

"""An operator's retry of an order no bank could be reached for in time."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from stopay.domain.orders import RetryRefused
from stopay.store import orders


@dataclass(frozen=True, slots=True)
class Retried:
    case_id: uuid.UUID
    order_id: uuid.UUID  # the new order


class Orders:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def retry(self, order_id: uuid.UUID, actor: str) -> Retried | RetryRefused:
        """Queues a new order in place of an undeliverable one, or says why it may not be retried."""
        created = await orders.retry(self._pool, order_id, actor)
        return created if isinstance(created, RetryRefused) else Retried(*created)

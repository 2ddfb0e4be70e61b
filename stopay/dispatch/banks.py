"""Per-bank isolation: a circuit breaker and a concurrency limit for each bank.

A bank that keeps failing (down, timing out) opens its breaker after ``threshold`` failures in a
row: its orders are then not even claimed, so they wait untouched while every other bank's orders
flow at full speed. After ``open_s`` the breaker lets requests through again (half-open); the first
success closes it, a failure opens it again. The breakers come from purgatory, a maintained asyncio
circuit-breaker library; only unavailability and timeouts count as failures, never a bank's refusal.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from bank_adapters.protocol import BankUnavailable

BankOpen = OpenedState  # raised on entering the breaker of a bank that is open


def _not_a_failure(exc: BaseException) -> bool:
    return not isinstance(exc, BankUnavailable | TimeoutError)


class BankGuards:
    def __init__(self, threshold: int = 5, open_s: float = 10.0, concurrency: int = 64) -> None:
        self._breakers = AsyncCircuitBreakerFactory(
            default_threshold=threshold, default_ttl=open_s, exclude=[(Exception, _not_a_failure)]
        )
        self._concurrency = concurrency
        self._limits: dict[str, asyncio.Semaphore] = {}

    @contextlib.asynccontextmanager
    async def call(self, bank_code: str) -> AsyncIterator[None]:
        """At most ``concurrency`` requests to one bank at a time, through its breaker; raises
        :data:`BankOpen` when the breaker is open."""
        limit = self._limits.setdefault(bank_code, asyncio.Semaphore(self._concurrency))
        async with limit:
            async with await self._breakers.get_breaker(bank_code):
                yield

    async def open_banks(self) -> list[str]:
        """Banks whose breaker is open and not yet due for a trial request."""
        found = []
        async with self._breakers.uow as uow:
            for bank_code in self._limits:
                context = await uow.contexts.get(bank_code)
                if context is not None and context.state == "opened" and context.opened_at is not None \
                        and time.time() < context.opened_at + context.ttl:
                    found.append(bank_code)
        return found

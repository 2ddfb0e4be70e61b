"""Per-bank isolation: a circuit breaker and a concurrency limit for each bank.

A bank that keeps failing (down, timing out) opens its breaker after ``threshold`` failures in a
row: its orders are then not even claimed, so they wait untouched while every other bank's orders
flow at full speed. After ``open_s`` one trial request goes through (half-open; the bank's other
orders still wait): a success closes the breaker, a failure opens it again. The breakers come from purgatory, a maintained asyncio
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
        self._trials: set[str] = set()  # banks with a trial request out

    @contextlib.asynccontextmanager
    async def call(self, bank_code: str) -> AsyncIterator[None]:
        """At most ``concurrency`` requests to one bank at a time, through its breaker; raises
        :data:`BankOpen` when the breaker is open."""
        limit = self._limits.setdefault(bank_code, asyncio.Semaphore(self._concurrency))
        async with limit:
            breaker = await self._breakers.get_breaker(bank_code)
            trial = breaker.context.state != "closed"
            if trial:
                if bank_code in self._trials:
                    raise BankOpen(bank_code)  # one trial at a time while the bank may still be down
                self._trials.add(bank_code)
            try:
                async with breaker:
                    yield
            finally:
                self._trials.discard(bank_code)

    async def open_banks(self) -> list[str]:
        """Banks whose breaker is open and not yet due for a trial, or whose trial is out."""
        found = sorted(self._trials)
        async with self._breakers.uow as uow:
            for bank_code in self._limits:
                context = await uow.contexts.get(bank_code)
                if bank_code not in self._trials and context is not None and context.state == "opened" \
                        and context.opened_at is not None and time.time() < context.opened_at + context.ttl:
                    found.append(bank_code)
        return found

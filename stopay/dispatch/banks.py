"""Per-bank isolation: a circuit breaker and a concurrency limit for each bank.

A bank that keeps failing (down, timing out) opens its breaker after ``threshold`` failures in a
row: its orders are then not even claimed, so they wait untouched while every other bank's orders
flow at full speed. After ``open_s`` by the service's clock, one trial request goes through
(half-open; the bank's other orders still wait): a success closes the breaker, a failure opens it
again. Only unavailability and timeouts count as failures, never a bank's refusal: a refusal is an
answer, so it closes the breaker as a success does.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass

from bank_adapters.protocol import BankUnavailable
from stopay.domain.clock import SYSTEM_CLOCK, Clock


class BreakerState(enum.IntEnum):
    """A bank's breaker, as the metrics show it (stopay_bank_breaker_state)."""

    CLOSED = 0
    OPEN = 1  # not yet due for a trial
    HALF_OPEN = 2  # due for its one trial, or the trial is out


class BankOpen(Exception):
    """Raised on entering the breaker of a bank that is open (or whose one trial is out)."""


@dataclass
class _Breaker:
    failures: int = 0  # in a row
    opened_at: float | None = None  # by the clock's monotonic time; None while closed


class BankGuards:
    def __init__(
        self, threshold: int = 5, open_s: float = 10.0, concurrency: int = 64, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self._threshold = threshold
        self._open_s = open_s
        self._concurrency = concurrency
        self._clock = clock
        self._breakers: dict[str, _Breaker] = {}
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._trials: set[str] = set()  # banks with a trial request out

    def _waiting(self, breaker: _Breaker) -> bool:
        """Open and not yet due for a trial."""
        return breaker.opened_at is not None and self._clock.monotonic() < breaker.opened_at + self._open_s

    @contextlib.asynccontextmanager
    async def call(self, bank_code: str) -> AsyncIterator[None]:
        """At most ``concurrency`` requests to one bank at a time, through its breaker; raises
        :class:`BankOpen` when the breaker is open."""
        limit = self._limits.setdefault(bank_code, asyncio.Semaphore(self._concurrency))
        async with limit:
            breaker = self._breakers.setdefault(bank_code, _Breaker())
            trial = breaker.opened_at is not None
            if trial:
                if bank_code in self._trials or self._waiting(breaker):
                    raise BankOpen(f"the circuit breaker of bank {bank_code} is open")
                self._trials.add(bank_code)  # one trial at a time while the bank may still be down
            try:
                yield
            except (BankUnavailable, TimeoutError):
                breaker.failures += 1
                if trial or breaker.failures >= self._threshold:
                    breaker.opened_at = self._clock.monotonic()
                raise
            except Exception:
                breaker.failures, breaker.opened_at = 0, None  # the bank answered
                raise
            else:
                breaker.failures, breaker.opened_at = 0, None
            finally:
                if trial:
                    self._trials.discard(bank_code)

    async def open_banks(self) -> list[str]:
        """Banks whose breaker is open and not yet due for a trial, or whose trial is out."""
        return sorted({*self._trials, *(code for code, b in self._breakers.items() if self._waiting(b))})

    def states(self) -> dict[str, BreakerState]:
        """Each bank called so far, with the state of its breaker."""
        return {code: self._state(code, b) for code, b in sorted(self._breakers.items())}

    def _state(self, code: str, breaker: _Breaker) -> BreakerState:
        if breaker.opened_at is None:
            return BreakerState.CLOSED
        if code in self._trials or not self._waiting(breaker):
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

"""Per-caller quotas: a token bucket of calls per second, and a cap on concurrent streams."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Quotas:
    # Calls per second each caller identity may make, sustained, and in one burst.
    rate_per_s: float = 200.0
    burst: int = 400
    # WatchCase streams one caller may hold open at once.
    streams_per_caller: int = 16


class Exhausted(Exception):
    def __init__(self, message: str, retry_after_s: float, reason: str) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.reason = reason


class RateLimiter:
    def __init__(self, rate_per_s: float, burst: int, monotonic: Callable[[], float]) -> None:
        self._rate = rate_per_s
        self._burst = float(burst)
        self._monotonic = monotonic
        self._buckets: dict[str, tuple[float, float]] = {}  # caller -> (tokens, at)

    def take(self, caller: str) -> None:
        """Takes one call from the caller's bucket, or raises :class:`Exhausted` saying when to retry."""
        now = self._monotonic()
        tokens, at = self._buckets.get(caller, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._rate)
        if tokens < 1.0:
            self._buckets[caller] = (tokens, now)
            wait = (1.0 - tokens) / self._rate
            raise Exhausted(
                f"{caller} is over its rate of {self._rate:g} calls/s; retry in {wait:.3f} s", wait, "RATE_LIMITED"
            )
        self._buckets[caller] = (tokens - 1.0, now)
        if len(self._buckets) > 100_000:  # callers long idle are full again: forget them
            self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < self._burst / self._rate}


class StreamSlots:
    def __init__(self, per_caller: int) -> None:
        self._per_caller = per_caller
        self._open: Counter[str] = Counter()

    @contextlib.contextmanager
    def hold(self, caller: str) -> Iterator[None]:
        if self._open[caller] >= self._per_caller:
            raise Exhausted(
                f"{caller} already has {self._per_caller} streams open; close one first", 1.0, "TOO_MANY_STREAMS"
            )
        self._open[caller] += 1
        try:
            yield
        finally:
            self._open[caller] -= 1
            if not self._open[caller]:
                del self._open[caller]

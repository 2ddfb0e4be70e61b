"""The service's one clock on the Python side, passed down from the composition root.

What the database decides by time (leases, due times, delivery deadlines, the life of a hold) it
decides by its own clock, ``stopay_now()``. What the service decides in Python (whether a transfer's
time is in the future, the end of a report's period, when a bank's circuit breaker lets a trial
through) it decides by a :class:`Clock`, so that tests can give it a fake one and move it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The wall-clock time, timezone-aware (UTC)."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary start that never go back: for measuring how long."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


SYSTEM_CLOCK = SystemClock()

# All of time, as periods count it: a period without its start begins at EPOCH, and a case's whole
# trail reaches to FOREVER.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FOREVER = datetime(9999, 12, 31, tzinfo=UTC)

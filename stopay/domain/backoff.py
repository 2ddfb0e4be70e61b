"""How long to wait before trying again: exponential backoff with full jitter."""

from __future__ import annotations

import random
from collections.abc import Callable


def full_jitter_s(attempts: int, base_s: float, cap_s: float, uniform: Callable[[], float] = random.random) -> float:
    """Uniform in ``[0, min(cap, base * 2^(attempts-1))]``: retries of many orders spread out
    instead of arriving at a recovering bank together. The schedule itself lives in the order's
    row (attempts, next attempt time), so it survives restarts. ``uniform`` draws from [0, 1)."""
    doublings = min(max(1, attempts) - 1, 64)  # past 2^64 the cap has long been reached
    return uniform() * min(cap_s, base_s * 2.0**doublings)

"""How long to wait before trying again: exponential backoff with full jitter."""

from __future__ import annotations

import random


def full_jitter_s(attempts: int, base_s: float, cap_s: float) -> float:
    """Uniform in ``[0, min(cap, base * 2^(attempts-1))]``: retries of many orders spread out
    instead of arriving at a recovering bank together."""
    return random.uniform(0, min(cap_s, base_s * 2 ** max(0, attempts - 1)))

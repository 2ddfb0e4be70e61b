"""How long to wait before trying again: exponential backoff with full jitter (tenacity's)."""

from __future__ import annotations

from tenacity import RetryCallState, wait_random_exponential


def full_jitter_s(attempts: int, base_s: float, cap_s: float) -> float:
    """Uniform in ``[0, min(cap, base * 2^(attempts-1))]``: retries of many orders spread out
    instead of arriving at a recovering bank together. The schedule itself lives in the order's
    row (attempts, next attempt time), so it survives restarts."""
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = max(1, attempts)
    return float(wait_random_exponential(multiplier=base_s, max=cap_s)(state))

"""The figures of a drill, computed from what it recorded: pure functions, no I/O."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Call",
    "doubled_at_banks",
    "longest_gap_s",
    "median",
    "percentile",
    "recovery_s",
    "resent_keys",
    "unstopped_freezes",
]


@dataclass(frozen=True, slots=True)
class Call:
    """One SubmitEntry attempt as the drill's client saw it, in seconds of the drill's clock."""

    began: float
    ended: float
    ok: bool


def doubled_at_banks(tally: Mapping[str, Any]) -> dict[str, int]:
    """From bank-sim's tally (stopay/banksim/tally.py): ``orders_under_two_keys``, orders whose freeze
    reached a bank under more than one idempotency key (each key is applied once, so such an order
    is applied twice), and ``accounts_frozen_twice_in_a_case``, accounts that one case sent freezes
    (or stops) for under more than one freeze order (or stop order): in the drills' tree networks
    each account is on one path of a case, so this too is a doubled effect."""
    keys_of_order: dict[str, set[str]] = defaultdict(set)
    orders_of_account: dict[tuple[str, str, bool], set[str]] = defaultdict(set)
    for key, seen in tally.get("keys", {}).items():
        keys_of_order[seen["order_id"]].add(key)
        # a freeze order and the stop sent beside it (its key ends in /stop) are two orders by design
        orders_of_account[(seen["case_id"], seen["account"], key.endswith("/stop"))].add(seen["order_id"])
    return {
        "orders_under_two_keys": sum(1 for keys in keys_of_order.values() if len(keys) > 1),
        "accounts_frozen_twice_in_a_case": sum(1 for orders in orders_of_account.values() if len(orders) > 1),
    }


def resent_keys(tally: Mapping[str, Any]) -> int:
    """Keys a bank got more than once: resends under the same key, which the bank answers again and
    applies once."""
    return sum(1 for seen in tally.get("keys", {}).values() if seen["requests"] > 1)


def unstopped_freezes(tally: Mapping[str, Any]) -> int:
    """Freezes a bank got from a freeze order rather than from the stop sent beside it (whose key
    ends in ``/stop``): the order found money its stop did not ask for, or had no stop."""
    return sum(1 for key in tally.get("keys", {}) if not key.endswith("/stop"))


def recovery_s(calls: Iterable[Call], fault_at: float) -> float | None:
    """Seconds from the fault to the end of the first call, begun after it, that succeeded; None when
    none did."""
    ends = [c.ended for c in calls if c.ok and c.began >= fault_at]
    return round(min(ends) - fault_at, 2) if ends else None


def longest_gap_s(calls: Iterable[Call], after: float) -> float:
    """The longest time without a successful call ending, from ``after`` to the last success."""
    ends = sorted(c.ended for c in calls if c.ok and c.ended >= after)
    points = [after, *ends]
    return round(max((b - a for a, b in zip(points, points[1:], strict=False)), default=0.0), 2)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) by the nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = math.ceil(round(q * len(ordered), 9))  # rounded first: 0.95 * 100 is 95.00000000000001
    return ordered[max(0, min(len(ordered), rank) - 1)]


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None

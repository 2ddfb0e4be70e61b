"""The freeze order state machine: which statuses exist, which moves are allowed, what an answer means.

The same transitions are enforced by the database (see the ``freeze_order_transitions`` table in the
migrations); a test checks that the two agree.
"""

from __future__ import annotations

import enum


class OrderStatus(str, enum.Enum):
    QUEUED = "queued"  # accepted, not yet answered by the bank (waiting, in flight or retrying)
    PENDING = "pending"  # PDCR: the bank will answer later
    HELD = "held"  # ACCR
    PARTIALLY_HELD = "partially_held"  # PECR, something held
    MOVED_ON = "moved_on"  # PECR, nothing held: the money had gone on
    REJECTED = "rejected"  # RJCR with a reason code
    UNDELIVERABLE = "undeliverable"  # stopay could not deliver it

    @property
    def terminal(self) -> bool:
        return self not in (OrderStatus.QUEUED, OrderStatus.PENDING)


_ANSWERED = frozenset(
    {
        OrderStatus.HELD,
        OrderStatus.PARTIALLY_HELD,
        OrderStatus.MOVED_ON,
        OrderStatus.REJECTED,
    }
)

TRANSITIONS: frozenset[tuple[OrderStatus, OrderStatus]] = frozenset(
    {(OrderStatus.QUEUED, OrderStatus.PENDING), (OrderStatus.QUEUED, OrderStatus.UNDELIVERABLE)}
    | {(OrderStatus.QUEUED, s) for s in _ANSWERED}
    | {(OrderStatus.PENDING, s) for s in _ANSWERED}
    | {(OrderStatus.PENDING, OrderStatus.UNDELIVERABLE)}
)

# Reason codes of stopay's own (not a bank's).
NO_ADAPTER = "NOAD"  # no adapter serves the bank code
GAVE_UP = "NOAS"  # no answer before the delivery deadline


def can_move(current: OrderStatus, new: OrderStatus) -> bool:
    return (current, new) in TRANSITIONS


class UnknownAnswer(ValueError):
    pass


def status_for_answer(code: str, held_minor: int, requested_minor: int) -> OrderStatus:
    """Maps a camt.029 status and the amount held to the order's new status."""
    if held_minor < 0 or held_minor > requested_minor:
        raise UnknownAnswer(f"held {held_minor} outside 0..{requested_minor}")
    if code == "ACCR":
        if held_minor != requested_minor:
            raise UnknownAnswer(f"ACCR must hold the whole {requested_minor}, held {held_minor}")
        return OrderStatus.HELD
    if code == "PECR":
        if held_minor == requested_minor:
            return OrderStatus.HELD
        return OrderStatus.PARTIALLY_HELD if held_minor > 0 else OrderStatus.MOVED_ON
    if code in ("PDCR", "RJCR"):
        if held_minor:
            raise UnknownAnswer(f"{code} cannot hold money, held {held_minor}")
        return OrderStatus.PENDING if code == "PDCR" else OrderStatus.REJECTED
    raise UnknownAnswer(f"unknown answer status {code!r}")

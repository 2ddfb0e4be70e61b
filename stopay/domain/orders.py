"""The freeze order state machine: which statuses exist, which moves are allowed, what an answer means.

The same transitions are enforced by the database (see the ``freeze_order_transitions`` table in the
migrations); a test checks that the two agree.
"""

from __future__ import annotations

import enum


class OrderStatus(str, enum.Enum):
    QUEUED = "queued"  # accepted; the statement is asked for (waiting, in flight or retrying)
    FREEZING = "freezing"  # the statement sized the hold; the freeze is asked for
    PENDING = "pending"  # PDCR: the bank will answer later
    HELD = "held"  # ACCR
    PARTIALLY_HELD = "partially_held"  # PECR, something held
    MOVED_ON = "moved_on"  # PECR, nothing held: the money had gone on
    REJECTED = "rejected"  # RJCR with a reason code
    UNDELIVERABLE = "undeliverable"  # stopay could not deliver it
    RELEASED = "released"  # a release order: money held in excess was given back
    EXTENDED = "extended"  # an extend order: the bank renewed the hold or made it a formal freeze
    RETURNED = "returned"  # a return order: the bank paid the money to the victim

    @property
    def terminal(self) -> bool:
        return self not in (OrderStatus.QUEUED, OrderStatus.FREEZING, OrderStatus.PENDING)


_ANSWERED = frozenset(
    {
        OrderStatus.HELD,
        OrderStatus.PARTIALLY_HELD,
        OrderStatus.MOVED_ON,
        OrderStatus.REJECTED,
    }
)

_OUTCOMES = _ANSWERED | {OrderStatus.PENDING, OrderStatus.UNDELIVERABLE}

TRANSITIONS: frozenset[tuple[OrderStatus, OrderStatus]] = frozenset(
    {(OrderStatus.QUEUED, s) for s in _OUTCOMES | {OrderStatus.FREEZING}}
    | {(OrderStatus.FREEZING, s) for s in _OUTCOMES}
    | {(OrderStatus.PENDING, s) for s in _ANSWERED | {OrderStatus.UNDELIVERABLE}}
    | {
        (OrderStatus.QUEUED, OrderStatus.RELEASED),
        (OrderStatus.QUEUED, OrderStatus.EXTENDED),
        (OrderStatus.QUEUED, OrderStatus.RETURNED),
    }
)

# Reason codes of stopay's own (not a bank's).
NO_ADAPTER = "NOAD"  # no adapter serves the bank code
GAVE_UP = "NOAS"  # no answer before the delivery deadline
REFUSED = "RFSD"  # the bank refused the request itself; sending it again would not help


def can_move(current: OrderStatus, new: OrderStatus) -> bool:
    return (current, new) in TRANSITIONS


class UnknownAnswer(ValueError):
    pass


def settled_status(held_minor: int, requested_minor: int) -> OrderStatus:
    """The status of an order once its freeze is answered, judged against the victim's money the
    order followed into the account: all of it held, part of it, or none (it had moved on)."""
    if held_minor > 0:
        return OrderStatus.HELD if held_minor >= requested_minor else OrderStatus.PARTIALLY_HELD
    return OrderStatus.MOVED_ON


def status_for_answer(code: str, held_minor: int, asked_minor: int, requested_minor: int) -> OrderStatus:
    """Maps a camt.029 answer to a freeze that asked for ``asked_minor`` to the order's new status."""
    if held_minor < 0 or held_minor > asked_minor:
        raise UnknownAnswer(f"held {held_minor} outside 0..{asked_minor}")
    if code == "ACCR":
        if held_minor != asked_minor:
            raise UnknownAnswer(f"ACCR must hold the whole {asked_minor}, held {held_minor}")
        return settled_status(held_minor, requested_minor)
    if code == "PECR":
        return settled_status(held_minor, requested_minor)
    if code in ("PDCR", "RJCR"):
        if held_minor:
            raise UnknownAnswer(f"{code} cannot hold money, held {held_minor}")
        return OrderStatus.PENDING if code == "PDCR" else OrderStatus.REJECTED
    raise UnknownAnswer(f"unknown answer status {code!r}")

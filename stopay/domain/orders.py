"""The freeze order state machine: which kinds and statuses exist, which moves are allowed, which
statuses are open, what an answer means, and which failed orders an operator may retry.

The same transitions are enforced by the database (see the ``freeze_order_transitions`` table in the
migrations), and the database's one definition of an open status (``freeze_order_open`` in
``store/migrations/0016_order_values.sql``) is this module's :data:`OPEN`; tests check that they agree.
Order kinds and statuses are compared as these enums everywhere outside this module and SQL.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass


class OrderKind(enum.StrEnum):
    FREEZE = "freeze"  # asks for the statement, then freezes the victim's money found there
    # Stop first (docs/tracing.md): freezes the money the order follows in at once, beside the
    # statement its FREEZE twin asks for; what turns out not to be the victim's is released after.
    # Also the top-up that asks again what a release elsewhere on the account set free.
    STOP = "stop"
    RELEASE = "release"  # gives back money held in excess
    EXTEND = "extend"  # renews a hold or makes it a formal freeze (store/migrations/0007_holds.sql)
    RETURN = "return"  # pays money held to a victim

    @property
    def gives_back(self) -> bool:
        """Takes money out of the hold: while it is out, its amount counts as going out
        (``releasing_minor``)."""
        return self in (OrderKind.RELEASE, OrderKind.RETURN)


class OrderStatus(enum.StrEnum):
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
    # A freeze (a stop, or a freeze order its statement sized) that would take the case past the
    # review's thresholds: it waits for a supervisor (stopay.domain.review); not sent, not due.
    AWAITING_REVIEW = "awaiting_review"
    DECLINED = "declined"  # a freeze the supervisor's review declined: never asked of the bank

    @property
    def open(self) -> bool:
        """Waiting for, or in flight to, a bank: see :data:`OPEN`."""
        return self in OPEN

    @property
    def terminal(self) -> bool:
        """Final: neither open nor waiting for a review (:data:`UNRESOLVED`)."""
        return self not in UNRESOLVED


# The one definition of an open order: a bank request is still to come or to be answered. SQL has
# its twin, freeze_order_open(status), which every query that asks uses.
OPEN: frozenset[OrderStatus] = frozenset({OrderStatus.QUEUED, OrderStatus.FREEZING, OrderStatus.PENDING})

# Not final yet: open, or waiting for a review. SQL's twin is freeze_order_unresolved(status), which
# the check on resolved_at, the guard that keeps a final order unchanged and the case's count of
# orders still to settle ask.
UNRESOLVED: frozenset[OrderStatus] = OPEN | {OrderStatus.AWAITING_REVIEW}


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
    # A freeze order sized past the review's thresholds waits; approved, its freeze goes out (a
    # stop's too); declined, it is never asked. Once the case's review is declined, a freeze order
    # sized after is declined at once.
    | {
        (OrderStatus.QUEUED, OrderStatus.AWAITING_REVIEW),
        (OrderStatus.AWAITING_REVIEW, OrderStatus.QUEUED),
        (OrderStatus.AWAITING_REVIEW, OrderStatus.FREEZING),
        (OrderStatus.AWAITING_REVIEW, OrderStatus.DECLINED),
        (OrderStatus.QUEUED, OrderStatus.DECLINED),
    }
    | {
        (OrderStatus.QUEUED, OrderStatus.RELEASED),
        (OrderStatus.QUEUED, OrderStatus.EXTENDED),
        (OrderStatus.QUEUED, OrderStatus.RETURNED),
    }
)


def kind_may_move(kind: OrderKind, before: OrderStatus, after: OrderStatus) -> bool:
    """The moves of :data:`TRANSITIONS` that only one kind makes: a stop waits for review before it
    is first sent (made so; approved, it is queued), a freeze order after its statement sized it
    (approved, it is freezing). So no order ever goes back to queued. The database's guard agrees."""
    if before is OrderStatus.AWAITING_REVIEW and after is OrderStatus.QUEUED:
        return kind is OrderKind.STOP
    if OrderStatus.AWAITING_REVIEW in (before, after) and OrderStatus.FREEZING in (before, after):
        return kind is OrderKind.FREEZE
    if before is OrderStatus.QUEUED and after in (OrderStatus.AWAITING_REVIEW, OrderStatus.DECLINED):
        return kind is OrderKind.FREEZE
    return (before, after) in TRANSITIONS


# Reason codes of stopay's own (not a bank's).
NO_ADAPTER = "NOAD"  # no adapter serves the bank code
GAVE_UP = "NOAS"  # no answer before the delivery deadline
REFUSED = "RFSD"  # the bank refused the request itself; sending it again would not help


def asks_statement(kind: OrderKind, status: OrderStatus) -> bool:
    """A freeze order still asking for its statement: no bank request of it can have moved money."""
    return kind is OrderKind.FREEZE and status is OrderStatus.QUEUED


def freeze_out(kind: OrderKind, status: OrderStatus) -> bool:
    """An order whose freeze is out (a freeze sized, a stop from its start, or either answered
    pending) or waiting for review: its amount is in flight (a waiting freeze's is set aside, so
    nothing asks for that money again meanwhile)."""
    if kind is OrderKind.STOP:
        return status in (OrderStatus.QUEUED, OrderStatus.PENDING, OrderStatus.AWAITING_REVIEW)
    return kind is OrderKind.FREEZE and status in (
        OrderStatus.FREEZING,
        OrderStatus.PENDING,
        OrderStatus.AWAITING_REVIEW,
    )


def stop_of(case_id: uuid.UUID, order_id: uuid.UUID) -> uuid.UUID:
    """The id of the stop that goes out beside freeze order ``order_id`` (its twin); its
    idempotency key is the freeze order's key with ``/stop`` appended."""
    return uuid.uuid5(case_id, f"stop:{order_id}")


def freeze_key_case(key: str) -> uuid.UUID | None:
    """The case a freeze's idempotency key names, None when ``key`` is no such key: a freeze order's
    key is ``<case_id>:<order_id>``, its stop's the same with ``/stop`` appended (a statement's, with
    ``/statement``, is not a freeze's)."""
    case_id, _, rest = key.partition(":")
    order_id = rest.removesuffix("/stop")
    try:
        uuid.UUID(order_id)
        return uuid.UUID(case_id)
    except ValueError:
        return None


def holds_money(kind: OrderKind) -> bool:
    """The kinds whose answer may hold money: a freeze and a stop."""
    return kind in (OrderKind.FREEZE, OrderKind.STOP)


class BankRequest(enum.StrEnum):
    """What an open order asks its bank for next."""

    STATEMENT = "statement"  # the account's statement (a freeze order, queued)
    # freeze freeze_minor (a freeze order sized, or a stop); sent again under the same key, the
    # status query of a pending one
    FREEZE = "freeze"
    RELEASE = "release"
    EXTEND = "extend"
    RETURN = "return"


def bank_request(kind: OrderKind, status: OrderStatus) -> BankRequest:
    """A freeze order asks for the statement while queued, then for the freeze (freezing, or
    pending: asking again is the status query); a stop asks for the freeze from the start; the other
    kinds ask for what they are."""
    if kind is OrderKind.STOP:
        return BankRequest.FREEZE
    if kind is OrderKind.FREEZE:
        return BankRequest.STATEMENT if status is OrderStatus.QUEUED else BankRequest.FREEZE
    return BankRequest(kind.value)


class RetryRefused(enum.StrEnum):
    """Why an operator may not retry an order."""

    NOT_FOUND = "not_found"
    NOT_UNDELIVERABLE = "not_undeliverable"  # only an order stopay could not deliver is retried
    HOLD_ENDED = "hold_ended"  # an extension is only worth sending while its hold lasts
    RETRIED_ALREADY = "retried_already"  # another retry of it was queued first
    # a stop whose account's statement shows nothing more to freeze (its freeze order froze it since)
    NOTHING_TO_FREEZE = "nothing_to_freeze"


@dataclass(frozen=True, slots=True)
class RetryPlan:
    """A new order for the same account, money and details, under the same idempotency key (so a
    bank that did apply the first never applies it twice); the failed order stays as it was."""

    kind: OrderKind
    # Put back among what is going out of the hold: a failed release or return had taken it off.
    going_out_minor: int
    # Put back in flight: a failed stop had taken its freeze off; the retry asks for it again.
    in_flight_minor: int = 0

    @property
    def puts_back(self) -> bool:
        return self.kind.gives_back


def retry_plan(
    kind: OrderKind, status: OrderStatus, requested_minor: int, hold_live: bool, short_minor: int | None = None
) -> RetryPlan | RetryRefused:
    """Whether an operator may retry an order, and how: only an undeliverable order is retried; a
    freeze starts again from the statement; a stop asks for its freeze again, back in flight, for
    what the case is short of at the account once a statement of it was applied (``short_minor``;
    None: none was, so its own amount), and not at all when that is nothing; an extension only
    while its hold is live (``hold_live``: the case's hold on the account is an
    emergency stop or a formal freeze); a release or a return puts its money back among what is
    going out."""
    if status is not OrderStatus.UNDELIVERABLE:
        return RetryRefused.NOT_UNDELIVERABLE
    if kind is OrderKind.EXTEND and not hold_live:
        return RetryRefused.HOLD_ENDED
    if kind is OrderKind.STOP:
        ask = requested_minor if short_minor is None else min(requested_minor, short_minor)
        return RetryPlan(kind, 0, ask) if ask > 0 else RetryRefused.NOTHING_TO_FREEZE
    return RetryPlan(kind, requested_minor if kind.gives_back else 0)


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


def after_review(kind: OrderKind) -> OrderStatus:
    """Where a waiting freeze goes once its case's review is approved: a stop asks for its freeze
    (queued), a freeze order for the freeze its statement sized (freezing)."""
    return OrderStatus.QUEUED if kind is OrderKind.STOP else OrderStatus.FREEZING

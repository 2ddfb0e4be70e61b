"""Review of large freezes: a case whose freezes would reach more accounts, or more money at once,
than the deployment allows waits for a supervisor before it freezes anything more.

The thresholds are per deployment (:class:`Thresholds`; 200 accounts, ¥2,000,000 by default). A
case's *reach* is the accounts it has asked to freeze at (each counted once, whatever came of the
freeze) and the money it holds or has in flight now, across its accounts. A freeze (a stop, a freeze
order sized by its statement, a top-up) that would take the reach past either threshold waits, in
the order status ``awaiting_review``, and so does every freeze after it: the case's review is asked
for once (:class:`ReviewState` ``awaiting``). Statements are still asked, so the trail keeps being
followed. A supervisor decides for the whole case in one step:

* approved: the waiting freezes go out, and the case freezes on without the thresholds (the
  platform's caps on orders still apply);
* declined: the waiting freezes are declined, and so is every freeze the trail asks for after; what
  is held stays held, and the holds' clocks run as before.

The entry's own transfers (level 1) are the officer's, checked with the victim: their freezes never
wait, though they count towards the reach.

Pure: the answers' lock asks :func:`gate` for each freeze, under the case's chain lock.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from stopay.domain.accounts import AccountKey
from stopay.domain.orders import OrderKind


class ReviewState(enum.StrEnum):
    AWAITING = "awaiting"  # a freeze waits for the supervisor's decision
    APPROVED = "approved"  # the waiting freezes went out; the case freezes on
    DECLINED = "declined"  # the waiting freezes were declined; nothing more is frozen


REVIEW_TRANSITIONS: frozenset[tuple[ReviewState, ReviewState]] = frozenset(
    {(ReviewState.AWAITING, ReviewState.APPROVED), (ReviewState.AWAITING, ReviewState.DECLINED)}
)


class ReviewDecision(enum.StrEnum):
    APPROVE = "approve"
    DECLINE = "decline"

    @property
    def state(self) -> ReviewState:
        return ReviewState.APPROVED if self is ReviewDecision.APPROVE else ReviewState.DECLINED


# ¥2,000,000 in fen.
DEFAULT_MAX_AMOUNT_MINOR = 200_000_000
DEFAULT_MAX_ACCOUNTS = 200


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The most a case may reach before its freezes wait for review: accounts asked to freeze at,
    and money held or in flight at once (fen)."""

    max_accounts: int = DEFAULT_MAX_ACCOUNTS
    max_amount_minor: int = DEFAULT_MAX_AMOUNT_MINOR

    def __post_init__(self) -> None:
        if self.max_accounts < 1:
            raise ValueError(f"the review's account threshold must be at least 1, not {self.max_accounts}")
        if self.max_amount_minor < 1:
            raise ValueError(f"the review's amount threshold must be at least 1 fen, not {self.max_amount_minor}")


class Gate(enum.StrEnum):
    """What becomes of one freeze."""

    SEND = "send"  # it goes to the bank
    WAIT = "wait"  # it waits for the case's review (order status awaiting_review)
    DECLINE = "decline"  # the case's review was declined: it is not asked (order status declined)


@dataclass(slots=True)
class Reach:
    """A case's reach as the answers' lock read it, updated as a batch opens freezes."""

    state: ReviewState | None
    accounts: set[AccountKey] = field(default_factory=set)
    amount_minor: int = 0


def gate(reach: Reach, account: AccountKey, amount_minor: int, level: int, thresholds: Thresholds) -> Gate:
    """Whether a freeze of ``amount_minor`` at ``account`` (at trail ``level``) goes out, waits for
    review or is declined."""
    if reach.state is ReviewState.APPROVED:
        return Gate.SEND
    if reach.state is ReviewState.DECLINED:
        return Gate.DECLINE
    if reach.state is ReviewState.AWAITING:
        return Gate.WAIT
    if level <= 1:
        return Gate.SEND
    accounts = len(reach.accounts) + (account not in reach.accounts)
    if accounts > thresholds.max_accounts or reach.amount_minor + amount_minor > thresholds.max_amount_minor:
        return Gate.WAIT
    return Gate.SEND


def admit(reach: Reach, account: AccountKey, amount_minor: int, decided: Gate) -> bool:
    """Records the freeze in the reach; True when it is the first to wait, so the case's review is
    asked for now."""
    if decided is Gate.SEND:
        reach.accounts.add(account)
        reach.amount_minor += amount_minor
        return False
    if decided is Gate.WAIT and reach.state is None:
        reach.state = ReviewState.AWAITING
        return True
    return False


class ReviewRefused(Exception):
    """The decision cannot be taken; ``reason`` is the stable code a program reads."""

    def __init__(self, message: str, reason: str, **facts: object) -> None:
        super().__init__(message)
        self.reason = reason
        self.facts = facts


def check_decidable(state: ReviewState | None, decided_by: str | None) -> None:
    """Refuses a decision on a case whose review was never asked for, or was decided already (under
    another request id: the same request sent again is answered as it was)."""
    if state is None:
        raise ReviewRefused("this case has no review: none of its freezes waits", "NO_REVIEW")
    if state is not ReviewState.AWAITING:
        raise ReviewRefused(
            f"this case's review was {state.value} already, by {decided_by}",
            "REVIEW_ALREADY_DECIDED",
            state=state.value,
            decided_by=decided_by or "",
        )


@dataclass(frozen=True, slots=True)
class WaitingFreeze:
    """A freeze waiting for its case's review."""

    order_id: uuid.UUID
    kind: OrderKind
    bank_code: str
    account_number: str
    holder_name: str
    level: int
    requested_minor: int
    freeze_minor: int


@dataclass(frozen=True, slots=True)
class ReviewView:
    """A case's review of large freezes, as listed and as a decision leaves it."""

    case_id: uuid.UUID
    report_no: str
    station_id: str
    state: ReviewState
    requested_at: datetime
    accounts: int  # the case's reach when the review was asked for
    amount_minor: int
    max_accounts: int  # the thresholds it passed
    max_amount_minor: int
    waiting_orders: int  # freezes waiting now, and their money
    waiting_minor: int
    decided_by: str | None = None
    decided_at: datetime | None = None
    reasons: str | None = None
    request_id: str | None = None
    replayed: bool = False
    decided_orders: int = 0  # the freezes the decision sent or declined (in its reply)
    decided_minor: int = 0

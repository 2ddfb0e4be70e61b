"""The life of a hold: what one case holds on one account, from emergency stop to its end.

A hold starts as an emergency stop when a freeze of the case first holds money on the account. It
lasts ``stop_hours``; while it lasts it may be renewed, up to ``max_stops`` periods in all, or turned
into a formal freeze under a legal document, which lasts ``freeze_months`` (``major_freeze_months``
for a major case) and is renewed, each time under a new document, before it lapses. A hold ends
released (the account was found unrelated), lapsed (nobody renewed it in time) or returned (its
money went back to the victims; only a formal freeze is returned).

The same moves are enforced by the database (``hold_transitions`` in the migrations); a test checks
that the two agree. Everything here is pure: the store applies a :class:`Step` in one transaction.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class HoldState(str, enum.Enum):
    STOPPED = "stopped"  # emergency stop
    FROZEN = "frozen"  # formal freeze under a legal document
    RELEASED = "released"  # the account was found unrelated
    LAPSED = "lapsed"  # it expired before anyone renewed it
    RETURNING = "returning"  # its money is being paid back to the victims
    RETURNED = "returned"

    @property
    def live(self) -> bool:
        """Holding money under a period that can expire."""
        return self in (HoldState.STOPPED, HoldState.FROZEN)

    @property
    def ended(self) -> bool:
        return self in (HoldState.RELEASED, HoldState.LAPSED, HoldState.RETURNED)


S = HoldState
TRANSITIONS: frozenset[tuple[HoldState, HoldState]] = frozenset(
    {
        (S.STOPPED, S.STOPPED),
        (S.STOPPED, S.FROZEN),
        (S.STOPPED, S.RELEASED),
        (S.STOPPED, S.LAPSED),
        (S.FROZEN, S.FROZEN),
        (S.FROZEN, S.RELEASED),
        (S.FROZEN, S.LAPSED),
        (S.FROZEN, S.RETURNING),
        (S.RETURNING, S.RETURNED),
    }
)


@dataclass(frozen=True, slots=True)
class HoldPolicy:
    stop_hours: int = 48
    max_stops: int = 2
    freeze_months: int = 6
    major_freeze_months: int = 12
    # How long before an expiry the sweeper warns of it.
    stop_warn_hours: int = 12
    freeze_warn_days: int = 15
    # How long a rateable return is announced before it is paid.
    notice_days: int = 30

    def __post_init__(self) -> None:
        for name in ("stop_hours", "max_stops", "freeze_months", "major_freeze_months"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("stop_warn_hours", "freeze_warn_days", "notice_days"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")


@dataclass(frozen=True, slots=True)
class LegalDocument:
    number: str
    approver: str
    amount_minor: int
    scope: str
    interest_included: bool

    def as_json(self) -> dict[str, object]:
        return {
            "number": self.number,
            "approver": self.approver,
            "amount_minor": self.amount_minor,
            "scope": self.scope,
            "interest_included": self.interest_included,
        }


@dataclass(frozen=True, slots=True)
class Hold:
    state: HoldState
    stops: int
    max_stops: int
    freezes: int
    major: bool
    expired: bool  # its expiry has passed, by the database clock
    held_minor: int  # what the case holds on the account now
    busy_minor: int  # freezes or releases of the account still out with the bank


@dataclass(frozen=True, slots=True)
class HoldView:
    """A hold as read back: its state, periods, document and what the case holds there now."""

    case_id: uuid.UUID
    bank_code: str
    account_number: str
    state: str
    stops: int
    max_stops: int
    freezes: int
    major: bool
    document: dict[str, Any] | None
    stopped_at: datetime
    expires_at: datetime
    warned_at: datetime | None
    return_due_at: datetime | None
    return_paid_at: datetime | None
    ended_at: datetime | None
    end_reason: str
    expired: bool
    held_minor: int = 0
    holder_name: str = ""
    # The approvals it waits for (a formal freeze, a return of its account), as the store reads them.
    pending: Any = ()


class HoldRefused(Exception):
    """The step is not allowed now; the message says why, for the officer, and ``facts`` for a
    program (the hold's state, stops, expiry, ...)."""

    def __init__(self, message: str, hold: Hold | None = None, **facts: object) -> None:
        super().__init__(message)
        known: dict[str, object] = {}
        if hold is not None:
            known = {
                "state": hold.state.value,
                "stops": hold.stops,
                "max_stops": hold.max_stops,
                "expired": str(hold.expired).lower(),
                "held_minor": hold.held_minor,
            }
        self.facts = {**known, **facts}


@dataclass(frozen=True, slots=True)
class Period:
    """How far the expiry moves: from the old expiry when ``extend``, else from now."""

    months: int = 0
    hours: int = 0
    extend: bool = True


@dataclass(frozen=True, slots=True)
class Step:
    state: HoldState
    change: str  # the bank's HoldChange, or "" when the bank is sent a release instead
    period: Period | None
    stops: int
    freezes: int
    major: bool
    keep_minor: int  # what stays held
    release_minor: int  # what is given back


def _require_live(hold: Hold, what: str) -> None:
    if hold.state.ended or hold.state == HoldState.RETURNING:
        raise HoldRefused(f"the hold is {hold.state.value}; it cannot be {what}", hold)
    if hold.expired:
        raise HoldRefused(f"the hold has expired; it cannot be {what} (the sweeper lifts it)", hold)


def renew(hold: Hold, policy: HoldPolicy) -> Step:
    """Renews an emergency stop for another period; a formal freeze is renewed by :func:`formalize`."""
    _require_live(hold, "renewed")
    if hold.state == HoldState.FROZEN:
        raise HoldRefused("a formal freeze is renewed under a new legal document (give the document)", hold)
    if hold.held_minor <= 0:
        raise HoldRefused("nothing is held on the account any more; there is nothing to renew", hold)
    if hold.stops >= hold.max_stops:
        raise HoldRefused(
            f"the account has had {hold.stops} emergency stops, the most allowed; "
            "turn the hold into a formal freeze instead",
            hold,
        )
    return Step(
        HoldState.STOPPED,
        "RENEW_STOP",
        Period(hours=policy.stop_hours),
        hold.stops + 1,
        hold.freezes,
        hold.major,
        hold.held_minor,
        0,
    )


def formalize(hold: Hold, policy: HoldPolicy, document: LegalDocument, major: bool) -> Step:
    """Turns an emergency stop into a formal freeze, or renews a formal freeze, under ``document``.

    The bank keeps holding at most the document's amount; anything held beyond it is given back.
    A renewal runs from the old expiry; a conversion from now.
    """
    _require_live(hold, "frozen")
    if hold.busy_minor:
        raise HoldRefused("freezes or releases of this account are still out with the bank; try again shortly", hold)
    if hold.held_minor <= 0:
        raise HoldRefused("nothing is held on the account any more; there is nothing to freeze", hold)
    major = major or hold.major  # a major case stays one
    months = policy.major_freeze_months if major else policy.freeze_months
    renewing = hold.state == HoldState.FROZEN
    keep = min(hold.held_minor, document.amount_minor)
    return Step(
        HoldState.FROZEN,
        "RENEW_FREEZE" if renewing else "FORMAL_FREEZE",
        Period(months=months, extend=renewing),
        hold.stops,
        hold.freezes + 1,
        major,
        keep,
        hold.held_minor - keep,
    )


def release(hold: Hold) -> Step:
    """Releases the hold of an account found unrelated to the case."""
    if hold.state.ended or hold.state == HoldState.RETURNING:
        raise HoldRefused(f"the hold is {hold.state.value}; there is nothing to release", hold)
    return Step(HoldState.RELEASED, "", None, hold.stops, hold.freezes, hold.major, 0, hold.held_minor)


def lapse(hold: Hold) -> Step:
    """The sweeper's step for a live hold past its expiry: the bank lifts it, stopay asks it to."""
    if not hold.state.live:
        raise HoldRefused(f"the hold is {hold.state.value}; it cannot lapse", hold)
    return Step(HoldState.LAPSED, "", None, hold.stops, hold.freezes, hold.major, 0, hold.held_minor)

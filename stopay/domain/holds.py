"""The life of a hold: what one case holds on one account, from emergency stop to its end.

A hold starts as an emergency stop when a freeze of the case first holds money on the account. It
lasts ``stop_hours``; while it lasts it may be renewed, up to ``max_stops`` periods in all, or turned
into a formal freeze under a legal document, which lasts ``freeze_months`` (``major_freeze_months``
for a major case) and is renewed, each time under a new document, before it lapses. A hold ends
released (the account was found unrelated), lapsed (nobody renewed it in time) or returned (its
money went back to the victims; only a formal freeze is returned).

The same moves are enforced by the database (``hold_transitions`` in the migrations); a test checks
that the two agree. Everything here is pure: the store applies a :class:`HoldMove` in one transaction.

The rules the rest of stopay asks of a hold are here too, so they are written once: when the first
money held starts a hold (:func:`starts_hold`), how much a case may keep held where its hold has
moved on (:func:`left_within_hold`, :func:`statement_within_hold`; a formal freeze holds at most its
document's amount, :func:`document_cap`), when the sweeper warns of an expiry (:func:`warn_due`) and
when a returning hold has paid out (:func:`return_completes`).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from stopay.domain.review import Thresholds
from stopay.domain.trail import reconcile


class HoldState(enum.StrEnum):
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

    @classmethod
    def of(cls, value: str | None) -> HoldState | None:
        """The state a store row names (None: the case holds nothing there yet, so has no hold)."""
        return None if value is None else cls(value)


class HoldEnd(enum.StrEnum):
    """Why a hold ended."""

    NONE = ""  # it has not
    UNRELATED = "unrelated"  # released: the account was found unrelated to the case
    EXPIRED = "expired"  # lapsed: nobody renewed it in time
    RETURNED = "returned"  # its money went back to the victims


class HoldChange(enum.StrEnum):
    """What a move asks the bank to do to the hold (the bank adapters' ``HoldChange``, which a test
    keeps equal to this)."""

    RENEW_STOP = "RENEW_STOP"  # the emergency stop lasts another period
    FORMAL_FREEZE = "FORMAL_FREEZE"  # the stop becomes a formal freeze under a legal document
    RENEW_FREEZE = "RENEW_FREEZE"  # the formal freeze is renewed, under a new document, before it lapses


class SweepAction(enum.StrEnum):
    """What the sweeper does to a hold."""

    LAPSE = "lapse"  # a live hold past its expiry lapses
    WARN = "warn"  # a live hold within its warning time is warned of
    PAY = "pay"  # a return whose notice has ended is paid


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
    # How long a holder's objection waits for a decision before it is escalated, and how long before
    # that deadline the sweeper warns of it (docs/holds.md, Objections).
    objection_days: int = 3
    objection_warn_hours: int = 24
    # When a case's freezes wait for a supervisor's review (stopay.domain.review; docs/rules.md).
    review: Thresholds = field(default_factory=Thresholds)

    def __post_init__(self) -> None:
        for name in ("stop_hours", "max_stops", "freeze_months", "major_freeze_months", "objection_days"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("stop_warn_hours", "freeze_warn_days", "notice_days", "objection_warn_hours"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")

    def warning(self, state: HoldState) -> timedelta | None:
        """How long before a hold in ``state`` expires the sweeper warns of it; None: never (it is
        not live)."""
        if state is HoldState.STOPPED:
            return timedelta(hours=self.stop_warn_hours)
        if state is HoldState.FROZEN:
            return timedelta(days=self.freeze_warn_days)
        return None

    def warnings(self) -> dict[HoldState, timedelta]:
        """:meth:`warning` of every state that has one, for the sweeper's search."""
        return {state: window for state in HoldState if (window := self.warning(state)) is not None}


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
    state: HoldState
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
    end_reason: HoldEnd
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
class HoldMove:
    """One move of a hold, as the store writes it: its new state and periods, and the money."""

    state: HoldState
    change: HoldChange | None  # None: the bank is sent a release instead
    period: Period | None
    stops: int
    freezes: int
    major: bool
    keep_minor: int  # what stays held
    release_minor: int  # what is given back
    # The most the case may hold on the account from now on (a legal document's amount; None: no new limit).
    cap_minor: int | None = None
    end: HoldEnd = HoldEnd.NONE  # why it ends, when it does


def _require_live(hold: Hold, what: str) -> None:
    if hold.state.ended or hold.state == HoldState.RETURNING:
        raise HoldRefused(f"the hold is {hold.state.value}; it cannot be {what}", hold)
    if hold.expired:
        raise HoldRefused(f"the hold has expired; it cannot be {what} (the sweeper lifts it)", hold)


def renew(hold: Hold, policy: HoldPolicy) -> HoldMove:
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
    return HoldMove(
        HoldState.STOPPED,
        HoldChange.RENEW_STOP,
        Period(hours=policy.stop_hours),
        hold.stops + 1,
        hold.freezes,
        hold.major,
        hold.held_minor,
        0,
    )


def formalize(hold: Hold, policy: HoldPolicy, document: LegalDocument, major: bool) -> HoldMove:
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
    cap = document_cap(HoldState.FROZEN, document.amount_minor)
    keep = left_within_hold(HoldState.FROZEN, cap, hold.held_minor)
    return HoldMove(
        HoldState.FROZEN,
        HoldChange.RENEW_FREEZE if renewing else HoldChange.FORMAL_FREEZE,
        Period(months=months, extend=renewing),
        hold.stops,
        hold.freezes + 1,
        major,
        keep,
        hold.held_minor - keep,
        cap,
    )


def release(hold: Hold) -> HoldMove:
    """Releases the hold of an account found unrelated to the case."""
    if hold.state.ended or hold.state == HoldState.RETURNING:
        raise HoldRefused(f"the hold is {hold.state.value}; there is nothing to release", hold)
    return HoldMove(
        HoldState.RELEASED, None, None, hold.stops, hold.freezes, hold.major, 0, hold.held_minor, end=HoldEnd.UNRELATED
    )


def lapse(hold: Hold) -> HoldMove:
    """The sweeper's step for a live hold past its expiry: the bank lifts it, stopay asks it to."""
    if not hold.state.live:
        raise HoldRefused(f"the hold is {hold.state.value}; it cannot lapse", hold)
    return HoldMove(
        HoldState.LAPSED, None, None, hold.stops, hold.freezes, hold.major, 0, hold.held_minor, end=HoldEnd.EXPIRED
    )


# ---- the rules other parts of stopay ask of a hold --------------------------------------------------


def starts_hold(state: HoldState | None, held_minor: int) -> bool:
    """The first money a case holds on an account starts its hold there, an emergency stop."""
    return state is None and held_minor > 0


def return_completes(state: HoldState | None, held_minor: int, releasing_minor: int) -> bool:
    """A returning hold is returned once it has paid out everything it held and nothing is out."""
    return state is HoldState.RETURNING and held_minor == 0 and releasing_minor == 0


def document_cap(state: HoldState | None, document_minor: int | None, limit_minor: int | None = None) -> int | None:
    """The most a case may hold on the account under its hold: a formal freeze at most what its legal
    document names (``document_minor``), and any hold at most what an objection partly upheld left
    held (``limit_minor``); None: no such limit (an emergency stop, or no hold)."""
    caps = [c for c in (document_minor if state is HoldState.FROZEN else None, limit_minor) if c is not None]
    return min(caps) if caps and state is not None else None


def left_within_hold(state: HoldState | None, cap_minor: int | None, left_minor: int) -> int:
    """How much of the victim's money found at the account (``left_minor``) the case may keep held
    there: nothing once its hold has ended, at most ``cap_minor`` (:func:`document_cap`) under a
    formal freeze, else all of it."""
    if state is not None and state.ended:
        return 0
    if cap_minor is not None:
        return min(left_minor, cap_minor)
    return left_minor


@dataclass(frozen=True, slots=True)
class Holding:
    """What a case keeps held on an account, and what to freeze or give back to come to it."""

    left_minor: int
    freeze_minor: int
    release_minor: int


def statement_within_hold(
    state: HoldState | None,
    cap_minor: int | None,
    left_minor: int,
    held_minor: int,
    in_flight_minor: int,
    releasing_minor: int,
) -> Holding | None:
    """What a statement may change where the case's hold has moved on: an ended hold holds nothing
    more (and gives back what a late freeze held); a returning hold stays as the return planned it;
    a formal freeze holds at most what its legal document names. None: the statement's own figures
    stand (no hold yet, or an emergency stop). Tracing goes on regardless."""
    if state is HoldState.RETURNING:
        return Holding(0, 0, 0)
    if state is None or (not state.ended and cap_minor is None):
        return None
    left = left_within_hold(state, cap_minor, left_minor)
    freeze, release = reconcile(left, held_minor, in_flight_minor, releasing_minor)
    return Holding(left, freeze, release)


def warn_due(
    state: HoldState, expires_at: datetime, warned_at: datetime | None, now: datetime, policy: HoldPolicy
) -> bool:
    """Whether the sweeper warns of a hold's coming expiry now: live, not warned of in this period,
    not expired, and within its state's warning time (:meth:`HoldPolicy.warning`)."""
    window = policy.warning(state)
    return window is not None and warned_at is None and now < expires_at <= now + window


def notice_ended(state: HoldState, due_at: datetime | None, paid_at: datetime | None, now: datetime) -> bool:
    """Whether a returning hold's payments, parked for the public notice, fall due now."""
    return state is HoldState.RETURNING and paid_at is None and due_at is not None and due_at <= now

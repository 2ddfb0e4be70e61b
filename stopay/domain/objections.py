"""A holder's objection to a hold: who filed it and how, its deadline, and its decision.

The holder of an account a case holds money on objects through the bank or at a station. The
objection is due a decision ``HoldPolicy.objection_days`` after it is filed; the sweeper warns of it
``objection_warn_hours`` before then and escalates it when the deadline passes undecided. An
officer or supervisor decides it, with reasons: release the whole hold, release a part of it (the
objection partly upheld: :func:`release_part`), or keep it.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime

from stopay.domain.holds import Hold, HoldMove, HoldRefused, HoldState


class ObjectionVia(enum.StrEnum):
    BANK = "bank"
    STATION = "station"


class ObjectionState(enum.StrEnum):
    OPEN = "open"
    DECIDED = "decided"


class ObjectionDecision(enum.StrEnum):
    RELEASE = "release"  # the whole hold is released; its release order goes to the bank
    RELEASE_PART = "release_part"  # a part is released (its release order goes to the bank); the rest stays held
    KEEP = "keep"  # the hold stays as it is


# The most documents one objection may refer to, and the longest reference.
MAX_DOCUMENTS = 20
MAX_DOCUMENT_LEN = 200


@dataclass(frozen=True, slots=True)
class Objection:
    """What one objection asks, as filed (the service checks the hold exists and lasts)."""

    case_id: uuid.UUID
    bank_code: str
    number: str
    holder_name: str
    via: ObjectionVia
    taken_by: str  # the bank code, or the officer who took it at a station
    grounds: str
    documents: tuple[str, ...]
    request_id: str


@dataclass(frozen=True, slots=True)
class ObjectionView:
    objection_id: uuid.UUID
    case_id: uuid.UUID
    bank_code: str
    account_number: str
    holder_name: str
    via: ObjectionVia
    taken_by: str
    grounds: str
    documents: tuple[str, ...]
    request_id: str
    filed_at: datetime
    due_at: datetime
    warned_at: datetime | None
    escalated_at: datetime | None
    state: ObjectionState
    decision: ObjectionDecision | None
    reasons: str
    decided_by: str
    decided_at: datetime | None
    overdue: bool  # open and past its deadline, by the hold lifecycle's clock
    released_minor: int = 0  # what the decision gave back: the whole hold, a part, or nothing
    replayed: bool = False  # this filing or decision was sent before (its request_id); this is what it came to


class ObjectionAction(enum.StrEnum):
    """What the sweeper does to an objection."""

    WARN = "warn"
    ESCALATE = "escalate"


class ReleasePartRefused(ValueError):
    """A partial release's amount cannot be released from the hold as it is: ``field`` names the
    request's field, the message says why."""

    def __init__(self, message: str, field: str = "release_minor") -> None:
        super().__init__(message)
        self.field = field


def release_part(hold: Hold, release_minor: int) -> HoldMove:
    """Releases ``release_minor`` of what the case holds on the account (an objection partly upheld):
    more than nothing and less than all of it (all of it is a release). The hold stays as it is, in
    its state and periods, holding the rest; from now on the case may hold no more than the rest
    there (the move's ``cap_minor``)."""
    if hold.state.ended or hold.state == HoldState.RETURNING:
        raise HoldRefused(f"the hold is {hold.state.value}; there is nothing to release", hold)
    if hold.expired:
        raise HoldRefused("the hold has expired; the sweeper lifts all of it", hold)
    if hold.busy_minor:
        raise HoldRefused("freezes or releases of this account are still out with the bank; try again shortly", hold)
    if release_minor <= 0:
        raise ReleasePartRefused(f"must be more than 0 fen, not {release_minor}")
    if release_minor >= hold.held_minor:
        raise ReleasePartRefused(
            f"must be less than the {hold.held_minor} fen the case holds on the account "
            f"(not {release_minor}); to give back all of it, release the hold"
        )
    keep = hold.held_minor - release_minor
    return HoldMove(hold.state, None, None, hold.stops, hold.freezes, hold.major, keep, release_minor, cap_minor=keep)

"""A holder's objection to a hold: who filed it and how, its deadline, and its decision.

The holder of an account a case holds money on objects through the bank or at a station. The
objection is due a decision ``HoldPolicy.objection_days`` after it is filed; the sweeper warns of it
``objection_warn_hours`` before then and escalates it when the deadline passes undecided. An
officer or supervisor decides it: release the whole hold, or keep it, with reasons. A partial
release is not offered: the hold's release step gives back everything the case holds on the
account, and nothing in the hold's life releases a part of it on request.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime


class ObjectionVia(enum.StrEnum):
    BANK = "bank"
    STATION = "station"


class ObjectionState(enum.StrEnum):
    OPEN = "open"
    DECIDED = "decided"


class ObjectionDecision(enum.StrEnum):
    RELEASE = "release"  # the whole hold is released; its release order goes to the bank
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
    replayed: bool = False  # this filing or decision was sent before (its request_id); this is what it came to


class ObjectionAction(enum.StrEnum):
    """What the sweeper does to an objection."""

    WARN = "warn"
    ESCALATE = "escalate"

"""Four eyes on money leaving: a formal freeze and a return of funds take effect only once a second
identity approves them.

An officer's Formalize or ReturnFunds is recorded as an approval *requested*; it takes effect when
another identity approves it (*approved*). The state machine only moves on: requested -> approved.
Who approves: never the identity that asked, and, when the caller's role is known (from its
certificate), a supervisor. With no known role (plain text on loopback, where request fields are
trusted) only the rule of two different identities applies.

Pure: the lifecycle asks :func:`check_approver` inside the transaction that takes the step.
"""

from __future__ import annotations

import enum

from stopay.domain.identity import Role

SUPERVISOR = Role.SUPERVISOR


class ApprovalStatus(enum.StrEnum):
    REQUESTED = "requested"  # asked for; nothing has happened at the bank yet
    APPROVED = "approved"  # approved by a second identity; the step was taken in the same transaction


APPROVAL_TRANSITIONS: frozenset[tuple[ApprovalStatus, ApprovalStatus]] = frozenset(
    {(ApprovalStatus.REQUESTED, ApprovalStatus.APPROVED)}
)


class ApprovalAction(enum.StrEnum):
    """The steps that wait for a second identity."""

    FORMALIZE = "formalize"  # a formal freeze of one case's hold, or its renewal
    RETURN = "return"  # the return of what is held on one account, across its cases


class ApprovalRefused(Exception):
    """The approval cannot be given; ``reason`` is the stable code a program reads."""

    def __init__(self, message: str, reason: str, **facts: object) -> None:
        super().__init__(message)
        self.reason = reason
        self.facts = facts


def person(actor: str) -> str:
    """Who an actor is, whatever role it acts in: ``stopay://officer/X-1`` and
    ``stopay://supervisor/X-1`` are one person (X-1), as are ``officer:X-1`` and X-1."""
    if actor.startswith("stopay://"):
        return actor.rpartition("/")[2]
    return actor.partition(":")[2] if ":" in actor else actor


def check_approver(requested_by: str, approver: str, role: str | None) -> None:
    """Refuses an approval by the person who asked (in any role), or (when the role is known) by
    anyone but a supervisor."""
    if person(approver) == person(requested_by):
        raise ApprovalRefused(
            f"{approver} asked for this step and cannot approve it; a second identity must",
            "SAME_APPROVER",
            requested_by=requested_by,
        )
    if role is not None and role != SUPERVISOR:
        raise ApprovalRefused(
            f"only a supervisor approves a formal freeze or a return (the caller is {role})",
            "NOT_SUPERVISOR",
            role=role,
        )


def check_open(status: ApprovalStatus, approved_by: str | None) -> None:
    """Refuses an approval already given (under another request id: the same request sent again is
    answered as it was)."""
    if status != ApprovalStatus.REQUESTED:
        raise ApprovalRefused(
            f"this request was already approved by {approved_by}",
            "APPROVAL_ALREADY_GIVEN",
            approved_by=approved_by or "",
        )

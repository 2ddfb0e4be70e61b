"""The approvals that formal freezes and returns wait for (migrations/0013_approvals.sql), written in
the hold transaction of the step they belong to."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stopay.domain.errors import ApprovalNotFound
from stopay.store.errors import database_errors
from stopay.store.holds import HoldTransaction
from stopay.store.queries import sql


@dataclass(frozen=True, slots=True)
class Approval:
    approval_id: uuid.UUID
    action: str  # formalize or return
    case_id: uuid.UUID | None  # the hold's case (formalize); None for a return
    bank_code: str
    account_number: str
    basis: dict[str, Any]  # formalize: the hold's state and freezes when asked; return: the plan
    document: dict[str, Any] | None
    major: bool
    reason: str
    request_id: str
    requested_by: str
    status: str
    approved_by: str | None


async def ask(
    tx: HoldTransaction,
    approval_id: uuid.UUID,
    action: str,
    case_id: uuid.UUID | None,
    bank_code: str,
    number: str,
    basis: dict[str, Any],
    document: dict[str, Any] | None,
    major: bool,
    reason: str,
    request_id: str,
    events: Sequence[dict[str, Any]],
) -> None:
    """Records a request for approval, by the transaction's actor, with its events in the chains."""
    with database_errors("could not record the request for approval"):
        await tx.conn.fetchrow(
            sql("approval_request"),
            approval_id,
            action,
            case_id,
            bank_code,
            number,
            basis,
            document,
            major,
            reason,
            request_id,
            tx.actor,
            list(events),
        )


async def lock(tx: HoldTransaction, approval_id: uuid.UUID) -> Approval:
    with database_errors("could not read the approval"):
        row = await tx.conn.fetchrow(sql("approval_row"), approval_id)
    if row is None:
        raise ApprovalNotFound(f"no request for approval has the id {approval_id}")
    return Approval(**dict(row))


async def grant(tx: HoldTransaction, approval: Approval, reason: str, request_id: str) -> None:
    """Marks the approval given by the transaction's actor."""
    with database_errors("could not record the approval"):
        await tx.conn.fetchrow(sql("approval_grant"), approval.approval_id, tx.actor, reason, request_id)

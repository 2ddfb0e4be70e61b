"""The approvals that formal freezes and returns wait for (migrations/0013_approvals.sql), written in
the hold transaction of the step they belong to."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stopay.domain.approvals import ApprovalAction, ApprovalStatus
from stopay.domain.errors import ApprovalNotFound
from stopay.domain.holds import LegalDocument
from stopay.store.errors import database_errors
from stopay.store.holds import CaseEventRow, HoldTransaction
from stopay.store.queries import query
from stopay.store.rows import json_rows


@dataclass(frozen=True, slots=True)
class Approval:
    approval_id: uuid.UUID
    action: ApprovalAction
    case_id: uuid.UUID | None  # the hold's case (formalize); None for a return
    bank_code: str
    account_number: str
    basis: dict[str, Any]  # formalize: the hold's state and freezes when asked; return: the plan
    document: LegalDocument | None
    major: bool
    reason: str
    request_id: str
    requested_by: str
    status: ApprovalStatus
    approved_by: str | None


async def ask(
    tx: HoldTransaction,
    approval_id: uuid.UUID,
    action: ApprovalAction,
    case_id: uuid.UUID | None,
    bank_code: str,
    number: str,
    basis: dict[str, Any],
    document: LegalDocument | None,
    major: bool,
    reason: str,
    request_id: str,
    events: Sequence[CaseEventRow],
) -> None:
    """Records a request for approval, by the transaction's actor, with its events in the chains."""
    q = query("approval_request")
    with database_errors("could not record the request for approval"):
        await tx.conn.fetchrow(
            q.text,
            *q.args(
                approval_id=approval_id,
                action=action.value,
                case_id=case_id,
                bank_code=bank_code,
                account_number=number,
                basis=basis,
                document=document.as_json() if document is not None else None,
                major=major,
                reason=reason,
                request_id=request_id,
                requested_by=tx.actor,
                events=json_rows(events),
            ),
        )


async def lock(tx: HoldTransaction, approval_id: uuid.UUID) -> Approval:
    q = query("approval_row")
    with database_errors("could not read the approval"):
        row = await tx.conn.fetchrow(q.text, *q.args(approval_id=approval_id))
    if row is None:
        raise ApprovalNotFound(f"no request for approval has the id {approval_id}")
    fields = dict(row)
    document = fields["document"]
    return Approval(
        **{
            **fields,
            "action": ApprovalAction(fields["action"]),
            "status": ApprovalStatus(fields["status"]),
            "document": LegalDocument(**document) if document is not None else None,
        }
    )


async def grant(tx: HoldTransaction, approval: Approval, reason: str, request_id: str) -> None:
    """Marks the approval given by the transaction's actor."""
    q = query("approval_grant")
    with database_errors("could not record the approval"):
        await tx.conn.fetchrow(
            q.text,
            *q.args(approval_id=approval.approval_id, approver=tx.actor, reason=reason, request_id=request_id),
        )

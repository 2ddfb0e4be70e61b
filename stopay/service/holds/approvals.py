"""Four eyes on money leaving: a second identity approves a formal freeze or a return asked for by
another, and the step is taken in the same transaction that records the approval, with both
identities, in the chains of the cases concerned.

The caller is an ``actor`` (today ``officer:ID`` from the request; from the caller's certificate
once identities are mutual TLS, e.g. ``stopay://supervisor/cq-0007``) and a ``role`` (None while the
role is not known: then only the rule of two different identities applies).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

from stopay.domain.approvals import ApprovalAction, check_approver, check_open
from stopay.domain.holds import HoldPolicy, HoldView
from stopay.service.holds.returns import Returns, StartedReturn, kept, replayed
from stopay.service.holds.steps import HoldSteps, digest
from stopay.store import approvals
from stopay.store.holds import HoldTransaction, hold_transaction

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Approved:
    approval_id: str
    action: ApprovalAction
    requested_by: str
    approved_by: str
    hold: HoldView | None = None  # formalize: the hold as it now is
    started: StartedReturn | None = None  # return: the return as it started
    replayed: bool = False  # the same approval was sent before; this is what it came to


class Approvals:
    def __init__(self, pool: asyncpg.Pool, policy: HoldPolicy) -> None:
        self.pool = pool
        self.steps = HoldSteps(pool, policy)
        self.returns = Returns(pool, policy)

    async def approve(
        self, approval_id: uuid.UUID, actor: str, role: str | None, reason: str, request_id: str
    ) -> Approved:
        payload = {"approval": str(approval_id), "reason": reason}
        async with hold_transaction(self.pool, actor) as tx:
            before = await tx.claim_request(request_id, "approve", digest("approve", payload))
            asked = await approvals.lock(tx, approval_id)
            if before is not None:
                return await self._replayed(tx, asked, before)
            check_open(asked.status, asked.approved_by)
            check_approver(asked.requested_by, actor, role)
            granted = {
                "approval_id": str(approval_id),
                "action": asked.action,
                "requested_by": asked.requested_by,
                "approved_by": actor,
                "approve_reason": reason,
                "approve_request_id": request_id,
            }
            if asked.action is ApprovalAction.FORMALIZE:
                done = Approved(
                    str(approval_id),
                    asked.action,
                    asked.requested_by,
                    actor,
                    hold=await self.steps.take_formalize(tx, asked, granted),
                )
            else:
                started = await self.returns.take_approved(tx, asked, granted)
                # The approval sent again, and the request sent again, are answered with the return as it started.
                await tx.keep_result(request_id, kept(started))
                await tx.keep_result(asked.request_id, kept(started))
                done = Approved(str(approval_id), asked.action, asked.requested_by, actor, started=started)
            await approvals.grant(tx, asked, reason, request_id)
        log.info(
            "approval.granted",
            approval_id=str(approval_id),
            action=asked.action,
            requested_by=asked.requested_by,
            approved_by=actor,
        )
        return done

    async def _replayed(self, tx: HoldTransaction, asked: approvals.Approval, before: dict[str, Any]) -> Approved:
        approver = asked.approved_by or ""
        if asked.action is ApprovalAction.FORMALIZE:
            assert asked.case_id is not None
            hold = await tx.current(asked.case_id, asked.bank_code, asked.account_number)
            return Approved(
                str(asked.approval_id), asked.action, asked.requested_by, approver, hold=hold, replayed=True
            )
        return Approved(
            str(asked.approval_id), asked.action, asked.requested_by, approver, started=replayed(before), replayed=True
        )

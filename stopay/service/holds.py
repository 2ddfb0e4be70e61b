"""The steps of a hold an officer takes (renew, formalize, release), the return of held money, and
their approval by a second identity; each one transaction in ``stopay.lifecycle``."""

from __future__ import annotations

import uuid

import asyncpg

from stopay.domain.holds import HoldPolicy, HoldView, LegalDocument
from stopay.lifecycle.approvals import Approvals, Approved
from stopay.lifecycle.returns import Returns, StartedReturn
from stopay.lifecycle.steps import HoldSteps
from stopay.store.holds import list_holds

__all__ = ["Approved", "Holds", "StartedReturn"]


class Holds:
    """A refused step raises ``HoldRefused`` or ``ApprovalRefused`` (the domain's reasons), or
    ``HoldNotFound``, ``ApprovalNotFound``, ``RequestConflict`` (``stopay.domain.errors``)."""

    def __init__(self, pool: asyncpg.Pool, policy: HoldPolicy) -> None:
        self._pool = pool
        self._steps = HoldSteps(pool, policy)
        self._returns = Returns(pool, policy)
        self._approvals = Approvals(pool, policy)

    async def list(self, case_id: uuid.UUID | None, bank_code: str = "", number: str = "") -> list[HoldView]:
        """The holds of a case, or (``case_id`` None) every case's hold on one account."""
        return await list_holds(self._pool, case_id, bank_code, number)

    async def renew(
        self, case_id: uuid.UUID, bank_code: str, number: str, actor: str, reason: str, request_id: str
    ) -> HoldView:
        return await self._steps.renew(case_id, bank_code, number, actor, reason, request_id)

    async def formalize(
        self,
        case_id: uuid.UUID,
        bank_code: str,
        number: str,
        actor: str,
        reason: str,
        request_id: str,
        document: LegalDocument,
        major: bool = False,
    ) -> HoldView:
        """Asks for the formal freeze under ``document``; taken when a second identity approves it."""
        return await self._steps.ask_formalize(
            case_id, bank_code, number, actor, reason, request_id, document=document, major=major
        )

    async def release(
        self, case_id: uuid.UUID, bank_code: str, number: str, actor: str, reason: str, request_id: str
    ) -> HoldView:
        return await self._steps.release(case_id, bank_code, number, actor, reason, request_id)

    async def return_funds(
        self, bank_code: str, number: str, actor: str, reason: str, request_id: str
    ) -> StartedReturn:
        """Asks for the return of what is held on the account; started when a second identity approves it."""
        return await self._returns.ask(bank_code, number, actor, reason, request_id)

    async def approve(
        self, approval_id: uuid.UUID, actor: str, role: str | None, reason: str, request_id: str
    ) -> Approved:
        return await self._approvals.approve(approval_id, actor, role, reason, request_id)

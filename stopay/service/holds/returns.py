"""Returning the money held on an account to the victims, in one transaction over every case there.

The officer's request is checked and planned at once, and waits for a second identity's approval
(service.holds.approvals), which starts the return if the plan still stands. All holds with money on the
account must be formal freezes, and no freeze or release there may be out with the bank, so the
figures cannot move under the plan. The plan (domain.returns) says who gets what; each flow becomes
a return order of the paying case, due at once for a direct return and when the notice ends (the
sweeper's 'pay') for a rateable one.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from stopay.domain.accounts import AccountKey
from stopay.domain.approvals import ApprovalAction, ApprovalRefused
from stopay.domain.entry import Party
from stopay.domain.holds import HoldPolicy
from stopay.domain.returns import Flow, ReturnPlan, plan_account_return, timing
from stopay.service.holds.steps import digest
from stopay.store import approvals
from stopay.store.approvals import Approval
from stopay.store.holds import (
    CaseEventRow,
    HoldNotFound,
    HoldTransaction,
    PayingHoldRow,
    ReturnOrderRow,
    hold_transaction,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class StartedReturn:
    plan: ReturnPlan
    # When the victims are paid (the notice's end; now for a direct return); None while it awaits approval.
    due_at: datetime | None
    replayed: bool = False  # the same request was taken before; this is what it came to
    approval_id: str = ""  # the approval it waits for, or that started it

    @property
    def awaiting_approval(self) -> bool:
        return self.due_at is None


def _basis(plan: ReturnPlan) -> dict[str, Any]:
    return {
        "direct": plan.direct,
        "parts": plan.parts,
        "flows": [[f.payer, f.payee, f.amount_minor] for f in plan.flows],
        "paying": plan.paid_by(),
    }


class Returns:
    def __init__(self, pool: asyncpg.Pool, policy: HoldPolicy) -> None:
        self.pool = pool
        self.policy = policy

    async def _plan(self, tx: HoldTransaction, bank_code: str, number: str) -> ReturnPlan:
        """The return's plan as the account's holds stand now (locked), refused if it cannot be paid."""
        cases, now = await tx.lock_account(bank_code, number)
        if not cases or now is None:
            raise HoldNotFound("no case has traced money to this account")
        return plan_account_return(cases, now, self.policy)

    async def ask(self, bank_code: str, number: str, actor: str, reason: str, request_id: str) -> StartedReturn:
        """Asks for the return of what is held on the account: checked and planned now, taken when a
        second identity approves it (:mod:`stopay.service.holds.approvals`)."""
        payload = {"account": f"{bank_code}:{number}", "reason": reason}
        async with hold_transaction(self.pool, actor) as tx:
            before = await tx.claim_request(request_id, "return", digest("return", payload))
            if before is not None:
                return replayed(before)
            plan = await self._plan(tx, bank_code, number)
            approval_id = uuid.uuid4()
            basis = _basis(plan)
            share = "direct" if plan.direct else "rateable"
            cases = sorted(set(plan.parts) | set(basis["paying"]))
            await approvals.ask(
                tx,
                approval_id,
                ApprovalAction.RETURN,
                None,
                bank_code,
                number,
                basis,
                None,
                False,
                reason,
                request_id,
                [
                    CaseEventRow(
                        uuid.UUID(c),
                        "approval.requested",
                        {
                            "reason": reason,
                            "request_id": request_id,
                            "requested_by": actor,
                            "share": share,
                            "total_minor": plan.total_minor,
                            "part_minor": plan.parts.get(c, 0),
                            "paid_minor": basis["paying"].get(c, 0),
                        },
                    )
                    for c in cases
                ],
            )
            await tx.keep_result(
                request_id,
                {
                    "direct": plan.direct,
                    "parts": plan.parts,
                    "flows": basis["flows"],
                    "due_at": None,
                    "approval_id": str(approval_id),
                },
            )
        log.info(
            "return.asked",
            account=AccountKey(bank_code, number).masked,
            direct=plan.direct,
            total_minor=plan.total_minor,
            victims=len(plan.parts),
            approval_id=str(approval_id),
        )
        return StartedReturn(plan, None, approval_id=str(approval_id))

    async def take_approved(self, tx: HoldTransaction, approval: Approval, granted: dict[str, Any]) -> StartedReturn:
        """The return ``approval`` asked for, started in the approval's transaction ``tx``: refused when
        what is held on the account has changed since it was asked."""
        bank_code, number, request_id = approval.bank_code, approval.account_number, approval.request_id
        plan = await self._plan(tx, bank_code, number)
        asked = approval.basis
        if _basis(plan) != asked:
            raise ApprovalRefused(
                "what is held on the account changed since the return was asked; ask again",
                "APPROVAL_OUTDATED",
                bank_code=bank_code,
            )
        victims = await tx.victim_accounts([uuid.UUID(c) for c in plan.parts])
        when = timing(plan, self.policy)
        orders, events = _orders_and_events(plan, victims, request_id, approval.reason, when.notice_days, granted)
        due_at = await tx.write_return(
            bank_code,
            number,
            [PayingHoldRow(uuid.UUID(c), m) for c, m in asked["paying"].items()],
            when.notice_days,
            when.parked,
            orders,
            events,
        )
        log.info(
            "return.planned",
            account=AccountKey(bank_code, number).masked,
            direct=plan.direct,
            total_minor=plan.total_minor,
            victims=len(plan.parts),
            due_at=due_at.isoformat(),
        )
        return StartedReturn(plan, due_at, approval_id=str(approval.approval_id))


def replayed(result: dict[str, Any]) -> StartedReturn:
    """A return as a request sent again finds it (what :func:`kept` or the request kept)."""
    plan = ReturnPlan(
        result["direct"],
        {k: int(v) for k, v in result["parts"].items()},
        tuple(Flow(p, q, int(a)) for p, q, a in result["flows"]),
    )
    due_at = datetime.fromisoformat(result["due_at"]) if result.get("due_at") else None
    return StartedReturn(plan, due_at, replayed=True, approval_id=result.get("approval_id", ""))


def kept(started: StartedReturn) -> dict[str, Any]:
    """What a started return's approval keeps, for an answer to the approval sent again."""
    plan = started.plan
    return {
        "direct": plan.direct,
        "parts": plan.parts,
        "flows": [[f.payer, f.payee, f.amount_minor] for f in plan.flows],
        "due_at": started.due_at.isoformat() if started.due_at else None,
        "approval_id": started.approval_id,
    }


def _orders_and_events(
    plan: ReturnPlan,
    victims: dict[uuid.UUID, Party],
    request_id: str,
    reason: str,
    notice_days: int,
    granted: dict[str, Any],
) -> tuple[list[ReturnOrderRow], list[CaseEventRow]]:
    share = "direct" if plan.direct else "rateable"
    orders: list[ReturnOrderRow] = []
    events: list[CaseEventRow] = [
        CaseEventRow(uuid.UUID(case), "approval.granted", granted)
        for case in sorted(set(plan.parts) | {f.payer for f in plan.flows})
    ]
    for i, flow in enumerate(plan.flows):
        payer = uuid.UUID(flow.payer)
        order_id = uuid.uuid5(payer, f"return:{request_id}:{i}")
        orders.append(
            ReturnOrderRow(
                payer,
                order_id,
                flow.amount_minor,
                {
                    "beneficiary_case": flow.payee,
                    "beneficiary": asdict(victims[uuid.UUID(flow.payee)]),
                    "share": share,
                    "request_id": request_id,
                },
            )
        )
    for case, part in plan.parts.items():
        events.append(
            CaseEventRow(
                uuid.UUID(case),
                "return.planned",
                {
                    "share": share,
                    "part_minor": part,
                    "total_minor": plan.total_minor,
                    "victims": len(plan.parts),
                    "reason": reason,
                    "request_id": request_id,
                    "notice_days": notice_days,
                    **granted,
                },
            )
        )
    for paying_case, paid in plan.paid_by().items():
        events.append(
            CaseEventRow(
                uuid.UUID(paying_case),
                "hold.returning",
                {
                    "share": share,
                    "paid_minor": paid,
                    "request_id": request_id,
                    **granted,
                },
            )
        )
    return orders, events

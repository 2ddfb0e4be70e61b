"""Returning the money held on an account to the victims, in one transaction over every case there.

The officer's request is checked and planned at once, and waits for a second identity's approval
(lifecycle.approvals), which starts the return if the plan still stands. All holds with money on the
account must be formal freezes, and no freeze or release there may be out with the bank, so the
figures cannot move under the plan. The plan (domain.returns) says who gets what; each flow becomes
a return order of the paying case, due at once for a direct return and when the notice ends (the
sweeper's 'pay') for a rateable one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from stopay.domain.accounts import AccountKey
from stopay.domain.approvals import ApprovalRefused
from stopay.domain.holds import HoldPolicy, HoldRefused
from stopay.domain.returns import Flow, ReturnPlan, plan_return
from stopay.domain.trail import traced
from stopay.lifecycle.steps import digest
from stopay.store import approvals
from stopay.store.approvals import Approval
from stopay.store.holds import AccountShare, HoldNotFound, HoldTransaction, hold_transaction

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


def _loss(share: AccountShare) -> int:
    """The victim's money that came into the account, as this case traced it; none where the case
    found the account unrelated (released its hold)."""
    if share.hold_state == "released":
        return 0
    return sum(traced(tuple((str(n), int(a)) for n, a in item.get("parts", ()))) for item in share.incoming.values())


def _paying(shares: list[AccountShare]) -> dict[str, int]:
    """What each case's hold pays in: every hold still holding (a released or lapsed hold's money is
    going back to the account holder, not to the victims)."""
    return {str(s.case_id): s.held_minor for s in shares if s.hold_state not in ("released", "lapsed")}


def _check(shares: list[AccountShare], direct: bool) -> None:
    for s in shares:
        if s.hold_state in ("released", "lapsed"):
            continue
        if s.in_flight_minor or s.releasing_minor:
            raise HoldRefused(
                f"freezes or releases of case {s.case_id} on this account are still out with the bank; "
                "try again shortly",
                case_id=s.case_id,
                state=s.hold_state,
            )
        if s.hold_state == "returning":
            raise HoldRefused(
                "a return of this account's money is already under way", case_id=s.case_id, state=s.hold_state
            )
        if not s.held_minor:
            continue
        if s.hold_state != "frozen":
            raise HoldRefused(
                f"the hold of case {s.case_id} is {s.hold_state or 'missing'}; only a formal freeze "
                "is returned (convert it first)",
                case_id=s.case_id,
                state=s.hold_state,
            )
        if s.last_extension != "extended":
            raise HoldRefused(
                f"the bank has not confirmed the formal freeze of case {s.case_id} "
                f"(its extension is {s.last_extension or 'missing'}); return once it has",
                case_id=s.case_id,
                state=s.hold_state,
            )
        if s.expired:
            raise HoldRefused(
                f"the formal freeze of case {s.case_id} has expired",
                case_id=s.case_id,
                state=s.hold_state,
                expired="true",
            )
        if not direct and s.lapses_first:
            raise HoldRefused(
                f"the formal freeze of case {s.case_id} expires before the return notice ends; renew it first",
                case_id=s.case_id,
                state=s.hold_state,
            )


def _basis(plan: ReturnPlan, paying: dict[str, int]) -> dict[str, Any]:
    return {
        "direct": plan.direct,
        "parts": plan.parts,
        "flows": [[f.payer, f.payee, f.amount_minor] for f in plan.flows],
        "paying": {
            c: sum(f.amount_minor for f in plan.flows if f.payer == c)
            for c in paying
            if any(f.payer == c for f in plan.flows)
        },
    }


class Returns:
    def __init__(self, pool: asyncpg.Pool, policy: HoldPolicy) -> None:
        self.pool = pool
        self.policy = policy

    async def _plan(self, tx: HoldTransaction, bank_code: str, number: str) -> tuple[ReturnPlan, dict[str, int]]:
        """The return's plan as the account's holds stand now (locked), refused if it cannot be paid."""
        shares = await tx.lock_account(bank_code, number, self.policy.notice_days)
        if not shares:
            raise HoldNotFound("no case has traced money to this account")
        paying = _paying(shares)
        plan = plan_return(paying, {str(s.case_id): _loss(s) for s in shares})
        _check(shares, plan.direct)
        return plan, paying

    async def ask(self, bank_code: str, number: str, actor: str, reason: str, request_id: str) -> StartedReturn:
        """Asks for the return of what is held on the account: checked and planned now, taken when a
        second identity approves it (:mod:`stopay.lifecycle.approvals`)."""
        payload = {"account": f"{bank_code}:{number}", "reason": reason}
        async with hold_transaction(self.pool, actor) as tx:
            before = await tx.claim_request(request_id, "return", digest("return", payload))
            if before is not None:
                return replayed(before)
            plan, paying = await self._plan(tx, bank_code, number)
            approval_id = uuid.uuid4()
            basis = _basis(plan, paying)
            share = "direct" if plan.direct else "rateable"
            cases = sorted(set(plan.parts) | set(basis["paying"]))
            await approvals.ask(
                tx,
                approval_id,
                "return",
                None,
                bank_code,
                number,
                basis,
                None,
                False,
                reason,
                request_id,
                [
                    {
                        "case_id": c,
                        "kind": "approval.requested",
                        "detail": {
                            "reason": reason,
                            "request_id": request_id,
                            "requested_by": actor,
                            "share": share,
                            "total_minor": plan.total_minor,
                            "part_minor": plan.parts.get(c, 0),
                            "paid_minor": basis["paying"].get(c, 0),
                        },
                    }
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
        plan, paying = await self._plan(tx, bank_code, number)
        asked = approval.basis
        if _basis(plan, paying) != asked:
            raise ApprovalRefused(
                "what is held on the account changed since the return was asked; ask again",
                "APPROVAL_OUTDATED",
                bank_code=bank_code,
            )
        victims = await tx.victim_accounts([uuid.UUID(c) for c in plan.parts])
        orders, events = _orders_and_events(plan, victims, request_id, approval.reason, self.policy, granted)
        due_at = await tx.write_return(
            bank_code,
            number,
            [{"case_id": c, "out_minor": m} for c, m in asked["paying"].items()],
            plan.direct,
            self.policy.notice_days,
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
    victims: dict[uuid.UUID, dict[str, str]],
    request_id: str,
    reason: str,
    policy: HoldPolicy,
    granted: dict[str, Any],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    share = "direct" if plan.direct else "rateable"
    orders: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = [
        {"case_id": case, "kind": "approval.granted", "detail": granted}
        for case in sorted(set(plan.parts) | {f.payer for f in plan.flows})
    ]
    for i, flow in enumerate(plan.flows):
        payer = uuid.UUID(flow.payer)
        order_id = uuid.uuid5(payer, f"return:{request_id}:{i}")
        orders.append(
            {
                "case_id": flow.payer,
                "order_id": str(order_id),
                "requested_minor": flow.amount_minor,
                "params": {
                    "beneficiary_case": flow.payee,
                    "beneficiary": victims[uuid.UUID(flow.payee)],
                    "share": share,
                    "request_id": request_id,
                },
            }
        )
    for case, part in plan.parts.items():
        events.append(
            {
                "case_id": case,
                "kind": "return.planned",
                "detail": {
                    "share": share,
                    "part_minor": part,
                    "total_minor": plan.total_minor,
                    "victims": len(plan.parts),
                    "reason": reason,
                    "request_id": request_id,
                    "notice_days": 0 if plan.direct else policy.notice_days,
                    **granted,
                },
            }
        )
    for paying_case in {f.payer for f in plan.flows}:
        events.append(
            {
                "case_id": paying_case,
                "kind": "hold.returning",
                "detail": {
                    "share": share,
                    "paid_minor": sum(f.amount_minor for f in plan.flows if f.payer == paying_case),
                    "request_id": request_id,
                    **granted,
                },
            }
        )
    return orders, events

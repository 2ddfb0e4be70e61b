"""Returning the money held on an account to the victims, in one transaction over every case there.

All holds with money on the account must be formal freezes, and no freeze or release there may be
out with the bank, so the figures cannot move under the plan. The plan (domain.returns) says who
gets what; each flow becomes a return order of the paying case, due at once for a direct return and
when the notice ends (the sweeper's 'pay') for a rateable one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from stopay.domain.accounts import AccountKey
from stopay.domain.holds import HoldPolicy, HoldRefused
from stopay.domain.returns import Flow, ReturnPlan, plan_return
from stopay.domain.trail import traced
from stopay.lifecycle.steps import digest
from stopay.store.holds import AccountShare, HoldNotFound, hold_transaction

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class StartedReturn:
    plan: ReturnPlan
    due_at: datetime  # when the victims are paid (the notice's end; now for a direct return)
    replayed: bool = False  # the same request was taken before; this is what it came to


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
            raise HoldRefused(f"freezes or releases of case {s.case_id} on this account are still out with the bank; "
                              "try again shortly", case_id=s.case_id, state=s.hold_state)
        if s.hold_state == "returning":
            raise HoldRefused("a return of this account's money is already under way", case_id=s.case_id,
                              state=s.hold_state)
        if not s.held_minor:
            continue
        if s.hold_state != "frozen":
            raise HoldRefused(f"the hold of case {s.case_id} is {s.hold_state or 'missing'}; only a formal freeze "
                              "is returned (convert it first)", case_id=s.case_id, state=s.hold_state)
        if s.last_extension != "extended":
            raise HoldRefused(f"the bank has not confirmed the formal freeze of case {s.case_id} "
                              f"(its extension is {s.last_extension or 'missing'}); return once it has",
                              case_id=s.case_id, state=s.hold_state)
        if s.expired:
            raise HoldRefused(f"the formal freeze of case {s.case_id} has expired", case_id=s.case_id,
                              state=s.hold_state, expired="true")
        if not direct and s.lapses_first:
            raise HoldRefused(f"the formal freeze of case {s.case_id} expires before the return notice ends; "
                              "renew it first", case_id=s.case_id, state=s.hold_state)


class Returns:
    def __init__(self, pool: asyncpg.Pool, policy: HoldPolicy) -> None:
        self.pool = pool
        self.policy = policy

    async def start(self, bank_code: str, number: str, actor: str, reason: str, request_id: str) -> StartedReturn:
        payload = {"account": f"{bank_code}:{number}", "reason": reason}
        async with hold_transaction(self.pool, actor) as tx:
            before = await tx.claim_request(request_id, "return", digest("return", payload))
            if before is not None:
                return _replayed(before)
            shares = await tx.lock_account(bank_code, number, self.policy.notice_days)
            if not shares:
                raise HoldNotFound("no case has traced money to this account")
            plan = plan_return(_paying(shares), {str(s.case_id): _loss(s) for s in shares})
            _check(shares, plan.direct)
            victims = await tx.victim_accounts([uuid.UUID(c) for c in plan.parts])
            orders, events = _orders_and_events(plan, victims, request_id, reason, self.policy)
            payers = {}
            for flow in plan.flows:
                payers[flow.payer] = payers.get(flow.payer, 0) + flow.amount_minor
            due_at = await tx.write_return(
                bank_code, number, [{"case_id": c, "out_minor": m} for c, m in payers.items()], plan.direct,
                self.policy.notice_days, orders, events)
            await tx.keep_result(request_id, {"direct": plan.direct, "parts": plan.parts,
                                              "flows": [[f.payer, f.payee, f.amount_minor] for f in plan.flows],
                                              "due_at": due_at.isoformat()})
        log.info("return.planned", account=AccountKey(bank_code, number).masked, direct=plan.direct,
                 total_minor=plan.total_minor, victims=len(plan.parts), due_at=due_at.isoformat())
        return StartedReturn(plan, due_at)


def _replayed(kept: dict[str, Any]) -> StartedReturn:
    plan = ReturnPlan(kept["direct"], {k: int(v) for k, v in kept["parts"].items()},
                      tuple(Flow(p, q, int(a)) for p, q, a in kept["flows"]))
    return StartedReturn(plan, datetime.fromisoformat(kept["due_at"]), replayed=True)


def _orders_and_events(plan: ReturnPlan, victims: dict[uuid.UUID, dict[str, str]], request_id: str, reason: str,
                       policy: HoldPolicy) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    share = "direct" if plan.direct else "rateable"
    orders, events = [], []
    for i, flow in enumerate(plan.flows):
        payer = uuid.UUID(flow.payer)
        order_id = uuid.uuid5(payer, f"return:{request_id}:{i}")
        orders.append({"case_id": flow.payer, "order_id": str(order_id), "requested_minor": flow.amount_minor,
                       "params": {"beneficiary_case": flow.payee, "beneficiary": victims[uuid.UUID(flow.payee)],
                                  "share": share, "request_id": request_id}})
    for case, part in plan.parts.items():
        events.append({"case_id": case, "kind": "return.planned",
                       "detail": {"share": share, "part_minor": part, "total_minor": plan.total_minor,
                                  "victims": len(plan.parts), "reason": reason, "request_id": request_id,
                                  "notice_days": 0 if plan.direct else policy.notice_days}})
    for flow in {f.payer for f in plan.flows}:
        events.append({"case_id": flow, "kind": "hold.returning",
                       "detail": {"share": share, "paid_minor": sum(f.amount_minor for f in plan.flows if f.payer == flow),
                                  "request_id": request_id}})
    return orders, events

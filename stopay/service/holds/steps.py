"""The steps of a hold's life, each one transaction: lock, decide in the domain, write.

Each step an officer asks for carries a request_id: sent again (a client's retry), it is recognised
and answered with the hold as it is, never taken twice.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import asyncpg
import structlog

from stopay.domain.accounts import AccountKey
from stopay.domain.approvals import ApprovalAction, ApprovalRefused
from stopay.domain.holds import (
    Hold,
    HoldChange,
    HoldMove,
    HoldPolicy,
    HoldState,
    HoldView,
    LegalDocument,
    SweepAction,
    formalize,
    lapse,
    left_within_hold,
    notice_ended,
    release,
    renew,
    warn_due,
)
from stopay.domain.orders import OrderKind
from stopay.store import approvals
from stopay.store.approvals import Approval
from stopay.store.holds import (
    CaseEventRow,
    HoldEventRow,
    HoldOrderRow,
    HoldTransaction,
    TrailFigures,
    hold_transaction,
    list_holds,
)

log = structlog.get_logger(__name__)

_EVENTS = {
    HoldChange.RENEW_STOP: "hold.renewed",
    HoldChange.FORMAL_FREEZE: "hold.formalized",
    HoldChange.RENEW_FREEZE: "hold.freeze_renewed",
}


def digest(action: str, payload: dict[str, Any]) -> bytes:
    return hashlib.sha256(json.dumps([action, payload], sort_keys=True, default=str).encode()).digest()


def _domain(trail: TrailFigures, row: HoldView) -> Hold:
    return Hold(
        row.state,
        row.stops,
        row.max_stops,
        row.freezes,
        row.major,
        row.expired,
        trail.held_minor - trail.releasing_minor,
        trail.in_flight_minor + trail.releasing_minor,
    )


async def take(
    tx: HoldTransaction,
    trail: TrailFigures,
    row: HoldView,
    move: HoldMove,
    request_id: str,
    reason: str,
    document: LegalDocument | None = None,
    approval: dict[str, Any] | None = None,
    release_reason: str = "",
) -> HoldView:
    """Writes ``move`` of the locked hold ``row``: the hold, its orders to the bank and its events.
    ``approval`` (who asked, who approved) goes into the move's event and an 'approval.granted'
    event before it. ``release_reason`` says why a release that does not end the hold gives money
    back (default: the excess over the freezing decision)."""
    orders: list[HoldOrderRow] = []
    events: list[HoldEventRow] = []
    detail: dict[str, Any] = {
        "reason": reason,
        "held_minor": move.keep_minor,
        "stops": move.stops,
        "freezes": move.freezes,
        "request_id": request_id,
        **(approval or {}),
    }
    if approval:
        events.append(HoldEventRow("approval.granted", None, approval))
    # Order ids follow from the move and the hold, so a move taken again can never make a second order,
    # and two holds of one case never share one.
    key = f"hold:{request_id}:{row.bank_code}:{row.account_number}"
    if move.change is not None:
        order_id = uuid.uuid5(row.case_id, f"{key}:extend")
        params: dict[str, Any] = {"change": move.change, "request_id": request_id}
        if document is not None:
            params["document"] = document.as_json()
            detail["document"] = document.as_json()
            detail["major"] = move.major
        orders.append(HoldOrderRow(order_id, OrderKind.EXTEND, move.keep_minor, params))
        events.append(HoldEventRow(_EVENTS[move.change], order_id, detail))
    if move.release_minor > 0:
        order_id = uuid.uuid5(row.case_id, f"{key}:release")
        why = move.end.value or release_reason or "excess over the freezing decision"
        orders.append(
            HoldOrderRow(order_id, OrderKind.RELEASE, move.release_minor, {"reason": why, "request_id": request_id})
        )
        events.append(HoldEventRow("release.queued", order_id, {"amount_minor": move.release_minor, "reason": why}))
    if move.state in (HoldState.RELEASED, HoldState.LAPSED):
        events.append(HoldEventRow(f"hold.{move.state.value}", None, {**detail, "released_minor": move.release_minor}))
    period = move.period
    return await tx.write(
        row,
        state=move.state,
        stops=move.stops,
        freezes=move.freezes,
        major=move.major,
        document=document.as_json() if document else None,
        months=(period.months if period else None),
        hours=(period.hours if period else 0),
        from_expiry=bool(period and period.extend),
        end_reason=move.end,
        out_minor=move.release_minor,
        left_minor=left_within_hold(move.state, move.cap_minor, trail.left_minor),
        orders=orders,
        events=events,
    )


class HoldSteps:
    """What officers ask of holds, and what the sweeper does to them, on one pool."""

    def __init__(self, pool: asyncpg.Pool, policy: HoldPolicy) -> None:
        self.pool = pool
        self.policy = policy

    async def list(self, case_id: uuid.UUID | None, bank_code: str = "", number: str = "") -> list[HoldView]:
        """The holds of a case, or (``case_id`` None) every case's hold on one account."""
        return await list_holds(self.pool, case_id, bank_code, number)

    async def renew(
        self, case_id: uuid.UUID, bank_code: str, number: str, actor: str, reason: str, request_id: str
    ) -> HoldView:
        """Renews an emergency stop."""
        payload = {
            "case": str(case_id),
            "account": f"{bank_code}:{number}",
            "reason": reason,
            "document": None,
            "major": False,
        }
        async with hold_transaction(self.pool, actor) as tx:
            if await tx.claim_request(request_id, "renew", digest("renew", payload)) is not None:
                return await tx.current(case_id, bank_code, number)
            trail, row = await tx.lock_one(case_id, bank_code, number)
            new = await take(tx, trail, row, renew(_domain(trail, row), self.policy), request_id, reason)
        log.info(
            "hold.renew",
            case_id=str(case_id),
            account=AccountKey(bank_code, number).masked,
            state=new.state,
            expires_at=new.expires_at.isoformat(),
        )
        return new

    async def ask_formalize(
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
        """Asks for a formal freeze (or its renewal) under ``document``: checked now, taken when a
        second identity approves it (:mod:`stopay.service.holds.approvals`). Returns the hold, with the
        request among what it waits for."""
        payload = {
            "case": str(case_id),
            "account": f"{bank_code}:{number}",
            "reason": reason,
            "document": document.as_json(),
            "major": major,
        }
        async with hold_transaction(self.pool, actor) as tx:
            if await tx.claim_request(request_id, "formalize", digest("formalize", payload)) is not None:
                return await tx.current(case_id, bank_code, number)
            trail, row = await tx.lock_one(case_id, bank_code, number)
            formalize(_domain(trail, row), self.policy, document, major)  # refused now if it could not be taken
            approval_id = uuid.uuid4()
            await approvals.ask(
                tx,
                approval_id,
                ApprovalAction.FORMALIZE,
                case_id,
                bank_code,
                number,
                {"state": row.state.value, "freezes": row.freezes},
                document,
                major,
                reason,
                request_id,
                [
                    CaseEventRow(
                        case_id,
                        "approval.requested",
                        {
                            "reason": reason,
                            "request_id": request_id,
                            "requested_by": actor,
                            "document": document.as_json(),
                            "major": major,
                        },
                    )
                ],
            )
            new = await tx.current(case_id, bank_code, number)
        log.info(
            "hold.formalize_asked",
            case_id=str(case_id),
            account=AccountKey(bank_code, number).masked,
            approval_id=str(approval_id),
        )
        return new

    async def take_formalize(self, tx: HoldTransaction, approval: Approval, granted: dict[str, Any]) -> HoldView:
        """The formal freeze ``approval`` asked for, taken in the approval's transaction ``tx``: refused
        when the hold has moved on since it was asked."""
        assert approval.case_id is not None and approval.document is not None
        trail, row = await tx.lock_one(approval.case_id, approval.bank_code, approval.account_number)
        asked = approval.basis
        if (row.state.value, row.freezes) != (asked["state"], asked["freezes"]):
            raise ApprovalRefused(
                f"the hold moved on since the formal freeze was asked (it was {asked['state']}, is {row.state}); "
                "ask again",
                "APPROVAL_OUTDATED",
                state=row.state,
            )
        document = approval.document
        move = formalize(_domain(trail, row), self.policy, document, approval.major)
        new = await take(tx, trail, row, move, approval.request_id, approval.reason, document, approval=granted)
        log.info(
            "hold.formalize",
            case_id=str(approval.case_id),
            account=AccountKey(approval.bank_code, approval.account_number).masked,
            state=new.state,
            expires_at=new.expires_at.isoformat(),
        )
        return new

    async def release(
        self, case_id: uuid.UUID, bank_code: str, number: str, actor: str, reason: str, request_id: str
    ) -> HoldView:
        """Releases the hold of an account found unrelated to the case."""
        payload = {"case": str(case_id), "account": f"{bank_code}:{number}", "reason": reason}
        async with hold_transaction(self.pool, actor) as tx:
            if await tx.claim_request(request_id, "release", digest("release", payload)) is not None:
                return await tx.current(case_id, bank_code, number)
            trail, row = await tx.lock_one(case_id, bank_code, number)
            move = release(_domain(trail, row))
            new = await take(tx, trail, row, move, request_id, reason)
        log.info("hold.released", case_id=str(case_id), account=AccountKey(bank_code, number).masked)
        return new

    async def sweep(self, action: SweepAction, case_id: uuid.UUID, bank_code: str, number: str, actor: str) -> bool:
        """The sweeper's step on one hold ('lapse', 'warn' or 'pay'); False when there was nothing
        to do any more (another replica did it, or an officer renewed the hold meanwhile)."""
        action = SweepAction(action)  # (a caller may name it)
        async with hold_transaction(self.pool, actor) as tx:
            trail, row = await tx.lock_one(case_id, bank_code, number)
            if action is SweepAction.WARN:
                due = warn_due(row.state, row.expires_at, row.warned_at, trail.now, self.policy)
                done = due and await tx.warn(row)
            elif action is SweepAction.PAY:
                done = notice_ended(row.state, row.return_due_at, row.return_paid_at, trail.now) and await tx.pay(row)
            elif row.expired and row.state.live:
                await take(
                    tx,
                    trail,
                    row,
                    lapse(_domain(trail, row)),
                    f"lapse:{row.expires_at.isoformat()}",
                    "not renewed before it expired",
                )
                done = True
            else:
                done = False
        if done:
            account = AccountKey(bank_code, number).masked
            if action is SweepAction.WARN:
                log.warning(
                    "hold.expiring",
                    case_id=str(case_id),
                    account=account,
                    state=row.state,
                    expires_at=row.expires_at.isoformat(),
                )
            else:
                log.info(
                    f"hold.{'lapsed' if action is SweepAction.LAPSE else 'return_due'}",
                    case_id=str(case_id),
                    account=account,
                )
        return done

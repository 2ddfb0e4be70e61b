"""Review of large freezes: the list a supervisor works from, and the decision that sends or declines
a case's waiting freezes in one step (stopay.domain.review; docs/rules.md).

A decision is one trail transaction: the waiting freezes' trail rows and the case's chain head are
locked, then the review and the waiting orders. Approved, each waiting freeze goes out (its money
was set aside in flight while it waited) and is due at once; declined, each is declined and its money
is no longer in flight; nothing held changes either way. The decision and the supervisor's identity
go into the case's chain (``review.approved`` or ``review.declined``, naming the orders). The
request_id makes it safe to send again: the same request answers with the review as it is.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

import asyncpg
import structlog

from stopay.domain.accounts import CaseAccount
from stopay.domain.errors import RequestConflict, ReviewNotFound
from stopay.domain.holds import HoldPolicy, freezes_more
from stopay.domain.orders import OrderStatus, after_review
from stopay.domain.review import ReviewDecision, ReviewState, ReviewView, WaitingFreeze, check_decidable
from stopay.domain.settlement import settle
from stopay.store import reviews as store
from stopay.store.trail import (
    AccountRow,
    AccountToLock,
    EventRecord,
    OrderChange,
    TrailChanges,
    account_change,
    trail_transaction,
)

log = structlog.get_logger(__name__)


class _MoreWaiting(Exception):
    """A freeze began to wait between the first read and the lock: its row is not locked yet."""


class Reviews:
    def __init__(self, pool: asyncpg.Pool, policy: HoldPolicy) -> None:
        self.pool = pool
        self.policy = policy

    async def list(self, case_id: uuid.UUID | None, awaiting_only: bool) -> list[ReviewView]:
        return await store.listing(self.pool, case_id, awaiting_only)

    async def decide(
        self, case_id: uuid.UUID, decision: ReviewDecision, reasons: str, actor: str, request_id: str
    ) -> ReviewView:
        """Approves or declines the case's waiting freezes, all of them, in one step."""
        for _ in range(5):
            try:
                return await self._decide(case_id, decision, reasons, actor, request_id)
            except _MoreWaiting:
                continue
        return await self._decide(case_id, decision, reasons, actor, request_id)

    async def _decide(
        self, case_id: uuid.UUID, decision: ReviewDecision, reasons: str, actor: str, request_id: str
    ) -> ReviewView:
        if not await store.listing(self.pool, case_id, awaiting_only=False, limit=1):
            raise ReviewNotFound(f"case {case_id} has no review: none of its freezes passed the thresholds")
        seen = await store.waiting(self.pool, case_id)
        async with trail_transaction(self.pool, None, actor, self.policy) as tx:
            rows, _ = await tx.lock([_to_lock(case_id, w) for w in seen], [], [case_id])
            review = await store.lock(tx.conn, case_id)
            assert review is not None  # a review, once asked for, is kept
            if review["request_id"] == request_id:
                if (review["state"], review["reasons"]) != (decision.state.value, reasons):
                    raise RequestConflict(
                        f"request_id {request_id!r} was already used for another decision of this review", request_id
                    )
                orders, amount = await store.decision(tx.conn, case_id)
                # Answered as the first time: what the decision sent or declined, from its event.
                return replace(
                    await self._one(tx.conn, case_id), replayed=True, decided_orders=orders, decided_minor=amount
                )
            check_decidable(ReviewState(review["state"]), review["decided_by"])
            now = await store.waiting(tx.conn, case_id)
            if any(CaseAccount(case_id, w.bank_code, w.account_number) not in rows for w in now):
                raise _MoreWaiting
            changes = _decision(case_id, decision, now, rows, actor, reasons)
            await tx.apply(changes)
            await store.decide(tx.conn, case_id, decision.state, actor, reasons, request_id)
            decided = await self._one(tx.conn, case_id)
        log.info(
            "review.decided",
            case_id=str(case_id),
            decision=decision.value,
            orders=len(now),
            amount_minor=sum(w.freeze_minor for w in now),
        )
        return replace(decided, decided_orders=len(now), decided_minor=sum(w.freeze_minor for w in now))

    async def _one(self, conn: asyncpg.Connection, case_id: uuid.UUID) -> ReviewView:
        (view,) = await store.listing(conn, case_id, awaiting_only=False, limit=1)
        return view


def _state(value: str):
    from stopay.domain.review import ReviewState

    return ReviewState(value)


def _to_lock(case_id: uuid.UUID, w: WaitingFreeze) -> AccountToLock:
    return AccountToLock(case_id, w.bank_code, w.account_number, w.holder_name, w.level)


def _decision(
    case_id: uuid.UUID,
    decision: ReviewDecision,
    waiting: list[WaitingFreeze],
    rows: dict[CaseAccount, AccountRow],
    actor: str,
    reasons: str,
) -> TrailChanges:
    """The orders moved on, the money no longer in flight (declined) and the chain's event.
    Approved, a waiting freeze at an account whose hold has moved on since (released, lapsed,
    returning, returned) is declined all the same: the case freezes nothing more there."""
    changes = TrailChanges()
    approve = decision is ReviewDecision.APPROVE
    touched: set[CaseAccount] = set()
    for w in waiting:
        row = rows[CaseAccount(case_id, w.bank_code, w.account_number)]
        sent = approve and freezes_more(row.hold_state)
        status = after_review(w.kind) if sent else OrderStatus.DECLINED
        detail = f"{'approved' if approve else 'declined'} by {actor} on review"
        if approve and not sent:
            detail += f"; not sent: the account's hold is {row.hold_state}"
        changes.orders.append(OrderChange(case_id, w.order_id, status, None, 0, 0, "", detail, 0.0))
        if sent:
            continue
        touched.add(row.key)
        money = row.money
        # Declined: its money, set aside in flight while it waited, is no longer; nothing is judged
        # (or released) by the decision.
        after = settle(
            w.kind, OrderStatus.AWAITING_REVIEW, status, w.requested_minor, w.freeze_minor, 0, 0, money, judge=False
        ).money
        row.in_flight_minor = after.in_flight_minor
    changes.accounts = [account_change(rows[key]) for key in sorted(touched)]
    changes.events.append(
        EventRecord(
            case_id,
            f"review.{decision.state.value}",
            None,
            {
                "reasons": reasons,
                "orders": len(waiting),
                "amount_minor": sum(w.freeze_minor for w in waiting),
                "order_ids": [str(w.order_id) for w in waiting],
                # approved, but at an account whose hold has moved on: declined all the same
                "not_sent": [str(o.order_id) for o in changes.orders if approve and o.status is OrderStatus.DECLINED],
            },
        )
    )
    return changes

"""The dispatcher's side of freeze orders: claim due ones under a lease, record outcomes, retry."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from stopay.domain.holds import HoldState
from stopay.domain.orders import OrderKind, OrderStatus, RetryPlan, RetryRefused, retry_plan
from stopay.domain.review import Gate, ReviewState, retry_gate, retry_gated
from stopay.domain.trail import reconcile
from stopay.store.errors import database_errors
from stopay.store.queries import query
from stopay.store.rows import json_rows


@dataclass(frozen=True, slots=True)
class ClaimedOrder:
    case_id: uuid.UUID
    order_id: uuid.UUID
    parent_order_id: uuid.UUID | None
    kind: OrderKind
    level: int
    status: OrderStatus  # a freeze queued: ask for the statement; freezing or pending: ask to freeze freeze_minor
    bank_code: str
    account_number: str
    holder_name: str
    currency: str
    requested_minor: int
    freeze_minor: int | None
    incoming: list[dict[str, Any]]
    idempotency_key: str
    # What an extend, release or return order asks beyond the amount (store/migrations/0007_holds.sql)
    params: dict[str, Any]
    attempts: int
    rule: str
    max_depth: int
    min_amount: int
    # Past the delivery deadline, by the database clock: a failed attempt gives the order up.
    expired: bool
    # txn_id -> incoming item: every transfer already known to carry the victim's money here
    known_incoming: dict[str, dict[str, Any]]

    @classmethod
    def from_record(cls, row: asyncpg.Record) -> ClaimedOrder:
        values = dict(row)
        return cls(**values | {"kind": OrderKind(values["kind"]), "status": OrderStatus(values["status"])})


@dataclass(frozen=True, slots=True)
class Claim:
    """One claim of an order: only the claim with this attempts count may record or give it back
    (a row of :claims in extend_leases.sql and trail_orders.sql)."""

    case_id: uuid.UUID
    order_id: uuid.UUID
    attempts: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """The new state of one claimed order, with the bank answer that produced it (if any)."""

    case_id: uuid.UUID
    order_id: uuid.UUID
    status: OrderStatus
    held_minor: int = 0
    released_minor: int = 0
    reason_code: str = ""
    detail: str = ""
    answer_code: str | None = None
    balance_minor: int | None = None
    bank_reference: str = ""
    statement: dict[str, Any] | None = None
    # For a pending answer: when to look at the order again (seconds).
    recheck_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Retry:
    """An order given back after an attempt that may pass (a row of :retries in reschedule_orders.sql)."""

    case_id: uuid.UUID
    order_id: uuid.UUID
    attempts: int  # of the claim that made the attempt: only it may give the order back
    delay_s: float
    detail: str


async def claim(
    pool: asyncpg.Pool,
    owner: str,
    limit: int,
    lease_s: float,
    deadline_s: float = 86400.0,
    skip_banks: Sequence[str] = (),
    banks: Sequence[str] | None = None,
) -> list[ClaimedOrder]:
    """Claims due orders of ``banks`` (those the claiming replica serves; None: of every bank), not
    of ``skip_banks``."""
    q = query("claim_orders")
    args = q.args(
        limit=limit,
        owner=owner,
        lease_s=lease_s,
        deadline_s=deadline_s,
        skip_banks=list(skip_banks),
        banks=None if banks is None else sorted(banks),
    )
    with database_errors("could not claim orders"):
        rows = await pool.fetch(q.text, *args)
    return [ClaimedOrder.from_record(r) for r in rows]


async def by_key(pool: asyncpg.Pool, case_id: uuid.UUID, key: str) -> ClaimedOrder | None:
    """The order an idempotency key names, as a claim would see it (for a bank's callback): of an
    order and its operator's retries, which share the key, the open one, else the latest."""
    q = query("order_by_key")
    with database_errors(f"could not read the order of key {key}"):
        row = await pool.fetchrow(q.text, *q.args(case_id=case_id, key=key))
    return ClaimedOrder.from_record(row) if row else None


async def by_id(pool: asyncpg.Pool, case_id: uuid.UUID, order_id: uuid.UUID) -> ClaimedOrder | None:
    """One order, as a claim would see it."""
    q = query("order_row")
    with database_errors(f"could not read order {order_id}"):
        row = await pool.fetchrow(q.text, *q.args(case_id=case_id, order_id=order_id))
    return ClaimedOrder.from_record(row) if row else None


async def retry(pool: asyncpg.Pool, order_id: uuid.UUID, actor: str) -> tuple[uuid.UUID, uuid.UUID] | RetryRefused:
    """A new order retrying ``order_id``, as :func:`stopay.domain.orders.retry_plan` allows, or why
    not. One transaction: the order is read with its account and hold locked, the domain decides,
    the retry is written."""
    read, write = query("retry_candidate"), query("retry_order")
    with database_errors(f"could not retry order {order_id}"):
        async with pool.acquire() as conn, conn.transaction():
            found = await conn.fetchrow(read.text, *read.args(order_id=order_id))
            if found is None:
                return RetryRefused.NOT_FOUND
            hold = HoldState.of(found["hold_state"])
            plan = retry_plan(
                OrderKind(found["kind"]),
                OrderStatus(found["status"]),
                found["requested_minor"],
                hold is not None and hold.live,
                _short(found["money"]),
            )
            if not isinstance(plan, RetryPlan):
                return plan
            kind, gated = OrderKind(found["kind"]), Gate.SEND
            if retry_gated(kind, found["level"]):
                # The case's review of large freezes, read with its chain head locked, after the
                # stop's trail row (a stop past level 1 always has one, locked above) and its hold,
                # the order every writer keeps: a decision cannot pass unseen.
                chain, review = query("chain_lock"), query("review_state")
                await conn.execute(chain.text, *chain.args(case_ids=[found["case_id"]]))
                state = await conn.fetchval(review.text, *review.args(case_id=found["case_id"]))
                gated = retry_gate(kind, found["level"], None if state is None else ReviewState(state))
            if gated is Gate.DECLINE:
                return RetryRefused.REVIEW_DECLINED
            row = await conn.fetchrow(
                write.text,
                *write.args(
                    order_id=order_id,
                    new_order_id=uuid.uuid4(),
                    actor=actor,
                    puts_back=plan.puts_back,
                    going_out_minor=plan.going_out_minor,
                    in_flight_minor=plan.in_flight_minor,
                    status=(OrderStatus.AWAITING_REVIEW if gated is Gate.WAIT else OrderStatus.QUEUED).value,
                ),
            )
    return (row["case_id"], row["order_id"]) if row else RetryRefused.RETRIED_ALREADY


def _short(money: dict[str, int] | None) -> int | None:
    """What the case is short of at the account, once a statement of it was applied (None: none was)."""
    if not money or not money["rev"]:
        return None
    freeze, _ = reconcile(money["left_minor"], money["held_minor"], money["in_flight_minor"], money["releasing_minor"])
    return freeze


async def reschedule(pool: asyncpg.Pool, owner: str, retries: Sequence[Retry], actor: str) -> int:
    q = query("reschedule_orders")
    with database_errors(f"could not reschedule {len(retries)} orders"):
        rows = await pool.fetch(q.text, *q.args(retries=json_rows(retries), owner=owner, actor=actor))
    return len(rows)


async def extend_leases(pool: asyncpg.Pool, owner: str, lease_s: float, claims: Sequence[Claim]) -> None:
    q = query("extend_leases")
    with database_errors("could not extend leases"):
        await pool.execute(q.text, *q.args(owner=owner, lease_s=lease_s, claims=json_rows(claims)))

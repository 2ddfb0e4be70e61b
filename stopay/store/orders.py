"""The dispatcher's side of freeze orders: claim due ones under a lease, record outcomes, retry."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from stopay.domain.orders import OrderStatus
from stopay.store.errors import database_errors
from stopay.store.queries import query, sql


@dataclass(frozen=True, slots=True)
class ClaimedOrder:
    case_id: uuid.UUID
    order_id: uuid.UUID
    parent_order_id: uuid.UUID | None
    kind: str  # "freeze" | "release" | "extend" | "return"
    level: int
    status: str  # "queued": ask for the statement; "freezing": ask to freeze freeze_minor
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
    with database_errors("could not claim orders"):
        rows = await pool.fetch(
            sql("claim_orders"),
            limit,
            owner,
            lease_s,
            deadline_s,
            list(skip_banks),
            None if banks is None else sorted(banks),
        )
    return [ClaimedOrder(**dict(r)) for r in rows]


async def by_key(pool: asyncpg.Pool, case_id: uuid.UUID, order_id: uuid.UUID) -> ClaimedOrder | None:
    """The order an idempotency key names, as a claim would see it (for a bank's callback)."""
    with database_errors(f"could not read order {order_id}"):
        row = await pool.fetchrow(sql("order_by_key"), case_id, order_id)
    return ClaimedOrder(**dict(row)) if row else None


async def retry(pool: asyncpg.Pool, order_id: uuid.UUID, actor: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """A new order retrying ``order_id``, which could not be delivered; None unless it failed."""
    with database_errors(f"could not retry order {order_id}"):
        q = query("retry_order")
        row = await pool.fetchrow(q.text, *q.args(order_id=order_id, new_order_id=uuid.uuid4(), actor=actor))
    return (row["case_id"], row["order_id"]) if row else None


async def reschedule(pool: asyncpg.Pool, owner: str, retries: Sequence[Retry], actor: str) -> int:
    payload = [
        {
            "case_id": str(r.case_id),
            "order_id": str(r.order_id),
            "attempts": r.attempts,
            "delay_s": r.delay_s,
            "detail": r.detail,
        }
        for r in retries
    ]
    with database_errors(f"could not reschedule {len(retries)} orders"):
        rows = await pool.fetch(sql("reschedule_orders"), payload, owner, actor)
    return len(rows)


async def extend_leases(
    pool: asyncpg.Pool, owner: str, lease_s: float, orders: Sequence[tuple[uuid.UUID, uuid.UUID, int]]
) -> None:
    payload = [{"case_id": str(c), "order_id": str(o), "attempts": n} for c, o, n in orders]
    with database_errors("could not extend leases"):
        await pool.execute(sql("extend_leases"), owner, lease_s, payload)

"""What the metrics read from the database (serve --metrics-listen): the queues' sizes, and the
time from a case's entry to its first hold. Plain reads, no locks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from stopay.domain.accounts import CaseAccount
from stopay.store.errors import database_errors
from stopay.store.queries import query


@dataclass(frozen=True, slots=True)
class Waiting:
    """The queues at one moment (store/sql/metrics_unresolved_orders.sql and metrics_waiting.sql)."""

    # (status, bank_code) -> orders open or awaiting review
    unresolved_orders: dict[tuple[str, str], int]
    due_orders: int
    oldest_due_s: float
    holds_expiring: int
    objections_open: int
    objections_overdue: int
    case_reviews_waiting: int


async def waiting(pool: asyncpg.Pool, within_s: float) -> Waiting:
    """The orders open or awaiting review by status and bank, the due queue, the holds expiring within ``within_s``
    seconds and the objections waiting."""
    with database_errors("could not read the metrics"):
        async with pool.acquire() as conn:
            rows = await conn.fetch(query("metrics_unresolved_orders").text)
            q = query("metrics_waiting")
            row = await conn.fetchrow(q.text, *q.args(within_s=within_s))
    assert row is not None
    return Waiting(
        {(r["status"], r["bank_code"]): r["orders"] for r in rows},
        row["due_orders"],
        max(0.0, row["oldest_due_s"]),
        row["holds_expiring"],
        row["objections_open"],
        row["objections_overdue"],
        row["case_reviews_waiting"],
    )


async def settled_orders(pool: asyncpg.Pool) -> dict[tuple[str, str], int]:
    """The final orders by status and bank: (status, bank_code) -> orders."""
    with database_errors("could not read the settled orders"):
        rows = await pool.fetch(query("metrics_settled_orders").text)
    return {(r["status"], r["bank_code"]): r["orders"] for r in rows}


async def first_holds(pool: asyncpg.Pool, started: Sequence[CaseAccount]) -> list[float]:
    """Of the holds just started on ``started``, the seconds from the entry to each one that is its
    case's first hold."""
    with database_errors("could not read the first holds"):
        q = query("first_holds")
        rows = await pool.fetch(
            q.text,
            *q.args(
                case_ids=[s.case_id for s in started],
                bank_codes=[s.bank_code for s in started],
                account_numbers=[s.account_number for s in started],
            ),
        )
    return [max(0.0, r["seconds"]) for r in rows]

"""Reviews of large freezes on PostgreSQL (store/migrations/0023_review.sql).

A decision runs inside a trail transaction (:mod:`stopay.store.trail`): the trail rows of the
waiting freezes' accounts and the case's chain head are locked first, then the review's row and the
waiting orders, so the decision keeps the order every writer of the case's orders keeps.
"""

from __future__ import annotations

import uuid

import asyncpg

from stopay.domain.errors import RequestConflict, StoreError
from stopay.domain.orders import OrderKind
from stopay.domain.review import ReviewState, ReviewView, WaitingFreeze
from stopay.store.errors import database_errors
from stopay.store.queries import query


async def waiting(conn: asyncpg.Pool | asyncpg.Connection, case_id: uuid.UUID) -> list[WaitingFreeze]:
    """The case's freezes waiting for its review; locked when ``conn`` is in a transaction."""
    q = query("review_waiting")
    with database_errors("could not read the freezes waiting for review"):
        rows = await conn.fetch(q.text, *q.args(case_id=case_id))
    return [WaitingFreeze(**dict(r) | {"kind": OrderKind(r["kind"])}) for r in rows]


async def lock(conn: asyncpg.Connection, case_id: uuid.UUID) -> asyncpg.Record | None:
    """The case's review row (state, decided_by, reasons, request_id), locked; None when there is none."""
    q = query("review_lock")
    with database_errors("could not lock the review"):
        return await conn.fetchrow(q.text, *q.args(case_id=case_id))


async def decide(
    conn: asyncpg.Connection, case_id: uuid.UUID, state: ReviewState, decided_by: str, reasons: str, request_id: str
) -> None:
    """Records the decision; RequestConflict when ``request_id`` decided another case's review."""
    q = query("review_decide")
    try:
        with database_errors("could not record the review's decision"):
            await conn.execute(
                q.text,
                *q.args(
                    case_id=case_id, state=state.value, decided_by=decided_by, reasons=reasons, request_id=request_id
                ),
            )
    except StoreError as exc:
        if isinstance(exc.__cause__, asyncpg.UniqueViolationError):
            raise RequestConflict(
                f"request_id {request_id!r} was already used for another case's review", request_id
            ) from exc
        raise


async def listing(
    conn: asyncpg.Pool | asyncpg.Connection, case_id: uuid.UUID | None, awaiting_only: bool, limit: int = 500
) -> list[ReviewView]:
    q = query("review_list")
    with database_errors("could not list the reviews"):
        rows = await conn.fetch(q.text, *q.args(case_id=case_id, awaiting_only=awaiting_only, limit=limit))
    return [ReviewView(**dict(r) | {"state": ReviewState(r["state"])}) for r in rows]


async def decision(conn: asyncpg.Pool | asyncpg.Connection, case_id: uuid.UUID) -> tuple[int, int]:
    """The freezes the review's decision sent or declined and their money, from its event; (0, 0)
    while it is not decided."""
    q = query("review_decision")
    with database_errors("could not read the review's decision"):
        row = await conn.fetchrow(q.text, *q.args(case_id=case_id))
    return (0, 0) if row is None else (row["orders"], row["amount_minor"])

"""Objections to holds on PostgreSQL (store/migrations/0022_objections.sql, 0024_objection_release_part.sql).

A step on an objection runs inside a hold transaction (:mod:`stopay.store.holds`): the hold's trail
row, hold row and chain head are locked first, the objection's row after them, so every writer keeps
one order and none deadlocks on another.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg

from stopay.domain.errors import ObjectionNotFound
from stopay.domain.objections import (
    Objection,
    ObjectionAction,
    ObjectionDecision,
    ObjectionState,
    ObjectionVia,
    ObjectionView,
)
from stopay.store.errors import database_errors
from stopay.store.holds import HoldTransaction
from stopay.store.queries import query


def objection_view(row: asyncpg.Record, replayed: bool = False) -> ObjectionView:
    documents = row["documents"]
    if isinstance(documents, str):
        documents = json.loads(documents)
    return ObjectionView(
        objection_id=row["objection_id"],
        case_id=row["case_id"],
        bank_code=row["bank_code"],
        account_number=row["account_number"],
        holder_name=row["holder_name"],
        via=ObjectionVia(row["via"]),
        taken_by=row["taken_by"],
        grounds=row["grounds"],
        documents=tuple(str(d) for d in documents),
        request_id=row["request_id"],
        filed_at=row["filed_at"],
        due_at=row["due_at"],
        warned_at=row["warned_at"],
        escalated_at=row["escalated_at"],
        state=ObjectionState(row["state"]),
        decision=ObjectionDecision(row["decision"]) if row["decision"] else None,
        reasons=row["reasons"] or "",
        decided_by=row["decided_by"] or "",
        decided_at=row["decided_at"],
        overdue=bool(row["overdue"]),
        released_minor=row["released_minor"] or 0,
        replayed=replayed,
    )


async def open_on(tx: HoldTransaction, case_id: uuid.UUID, bank_code: str, number: str) -> ObjectionView | None:
    """The open objection to the locked hold, if any."""
    q = query("objection_open")
    with database_errors("could not read the objection"):
        row = await tx.conn.fetchrow(q.text, *q.args(case_id=case_id, bank_code=bank_code, account_number=number))
    return objection_view(row) if row else None


async def file(tx: HoldTransaction, objection_id: uuid.UUID, objection: Objection, due_hours: int) -> ObjectionView:
    q = query("objection_file")
    with database_errors("could not file the objection"):
        row = await tx.conn.fetchrow(
            q.text,
            *q.args(
                objection_id=objection_id,
                case_id=objection.case_id,
                bank_code=objection.bank_code,
                account_number=objection.number,
                holder_name=objection.holder_name,
                via=objection.via.value,
                taken_by=objection.taken_by,
                grounds=objection.grounds,
                documents=list(objection.documents),
                request_id=objection.request_id,
                due_hours=due_hours,
                actor=tx.actor,
            ),
        )
    return objection_view(row)


async def read(
    conn: asyncpg.Connection | asyncpg.Pool, objection_id: uuid.UUID | None = None, request_id: str | None = None
) -> ObjectionView:
    """The objection by its id, or by the request_id it was filed under."""
    q = query("objection_row")
    with database_errors("could not read the objection"):
        row = await conn.fetchrow(q.text, *q.args(objection_id=objection_id, request_id=request_id))
    if row is None:
        raise ObjectionNotFound(f"no objection {objection_id or request_id}")
    return objection_view(row)


async def lock(tx: HoldTransaction, objection_id: uuid.UUID) -> ObjectionView:
    q = query("objection_lock")
    with database_errors("could not lock the objection"):
        row = await tx.conn.fetchrow(q.text, *q.args(objection_id=objection_id))
    if row is None:
        raise ObjectionNotFound(f"no objection {objection_id}")
    return objection_view(row)


async def decide(
    tx: HoldTransaction,
    objection_id: uuid.UUID,
    decision: ObjectionDecision,
    reasons: str,
    request_id: str,
    released_minor: int | None,
    kept_minor: int | None = None,
) -> ObjectionView:
    q = query("objection_decide")
    with database_errors("could not decide the objection"):
        row = await tx.conn.fetchrow(
            q.text,
            *q.args(
                objection_id=objection_id,
                decision=decision.value,
                reasons=reasons,
                decided_by=tx.actor,
                released_minor=released_minor,
                kept_minor=kept_minor,
                request_id=request_id,
                actor=tx.actor,
            ),
        )
    if row is None:
        raise ObjectionNotFound(f"objection {objection_id} is not open")
    return objection_view(row)


async def limit_hold(tx: HoldTransaction, case_id: uuid.UUID, bank_code: str, number: str, limit_minor: int) -> None:
    """Lowers the most the case may hold on the account to ``limit_minor`` (an objection partly upheld)."""
    q = query("hold_limit")
    with database_errors("could not limit the hold"):
        await tx.conn.execute(
            q.text, *q.args(case_id=case_id, bank_code=bank_code, account_number=number, limit_minor=limit_minor)
        )


async def mark(tx: HoldTransaction, action: ObjectionAction, objection_id: uuid.UUID, warn_hours: int) -> bool:
    """The sweeper's step: warns of or escalates the objection; False when there was nothing to do."""
    q = query("objection_warn" if action is ObjectionAction.WARN else "objection_escalate")
    values: dict[str, Any] = {"objection_id": objection_id, "actor": tx.actor}
    if action is ObjectionAction.WARN:
        values["warn_hours"] = warn_hours
    with database_errors("could not mark the objection"):
        row = await tx.conn.fetchrow(q.text, *q.bind(values))
    return row is not None


async def lock_chain(tx: HoldTransaction, case_id: uuid.UUID) -> None:
    q = query("chain_lock")
    with database_errors("could not lock the case's chain"):
        await tx.conn.execute(q.text, *q.args(case_ids=[case_id]))


async def due(pool: asyncpg.Pool, limit: int, warn_hours: int) -> list[tuple[ObjectionAction, uuid.UUID, uuid.UUID]]:
    """What the sweeper has to do about objections: (action, objection_id, case_id)."""
    q = query("objections_due")
    with database_errors("could not read the objections due"):
        rows = await pool.fetch(q.text, *q.args(batch=limit, warn_hours=warn_hours))
    return [(ObjectionAction(r["action"]), r["objection_id"], r["case_id"]) for r in rows]


async def listing(
    pool: asyncpg.Pool, case_id: uuid.UUID | None, open_only: bool, overdue_only: bool, limit: int = 500
) -> list[ObjectionView]:
    q = query("objection_list")
    with database_errors("could not read objections"):
        rows = await pool.fetch(
            q.text, *q.args(case_id=case_id, open_only=open_only, overdue_only=overdue_only, limit=limit)
        )
    return [objection_view(r) for r in rows]

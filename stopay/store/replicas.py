"""Which replica serves which banks (store/migrations/0009_replicas.sql), and the giving up of
orders whose bank no live replica serves."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from stopay.store.errors import database_errors
from stopay.store.queries import query


async def register(pool: asyncpg.Pool, owner: str, bank_codes: Sequence[str], alive_s: float, keep_s: float) -> None:
    """Registers ``owner`` as serving ``bank_codes`` for ``alive_s`` seconds from now (database
    clock); called again as a heartbeat. Forgets registrations lapsed over ``keep_s`` ago."""
    with database_errors("could not register the replica"):
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(query("replicas_lock").text)
            q = query("register_replica")
            await conn.execute(
                q.text, *q.args(owner=owner, bank_codes=sorted(bank_codes), alive_s=alive_s, keep_s=keep_s)
            )


async def lapse(pool: asyncpg.Pool, owner: str) -> None:
    """``owner`` stops serving its banks."""
    with database_errors("could not end the replica's registration"):
        q = query("lapse_replica")
        await pool.execute(q.text, *q.args(owner=owner))


async def give_up_unserved(
    pool: asyncpg.Pool, limit: int, deadline_s: float, reason_code: str, actor: str
) -> list[tuple[uuid.UUID, uuid.UUID, str]]:
    """Settles as undeliverable up to ``limit`` freeze orders still asking for their statement whose
    bank no live replica serves: at once for a bank no replica served within ``deadline_s``, at the
    order's delivery deadline otherwise. Returns (case_id, order_id, bank_code) of each."""
    with database_errors("could not give up unserved orders"):
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(query("replicas_lock").text)
            q = query("give_up_unserved")
            rows = await conn.fetch(
                q.text, *q.args(limit=limit, deadline_s=deadline_s, reason_code=reason_code, actor=actor)
            )
    return [(r["case_id"], r["order_id"], r["bank_code"]) for r in rows]


async def served_banks(pool: asyncpg.Pool) -> list[str]:
    """The codes of the banks a live replica's dispatcher serves now."""
    with database_errors("could not read the banks served"):
        rows = await pool.fetch(query("served_banks").text)
    return [r["bank_code"] for r in rows]

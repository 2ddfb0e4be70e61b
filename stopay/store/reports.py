"""Reads for auditors: an account's history, totals over a period, and the event log for export."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from stopay.store.errors import database_errors
from stopay.store.queries import query


@dataclass(frozen=True, slots=True)
class Totals:
    cases: int
    reported_minor: int
    held_minor: int
    returned_minor: int
    exited_minor: int
    back_with_victim_minor: int
    orders: int
    holds: int
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None


async def account_orders(pool: asyncpg.Pool, bank_code: str, number: str) -> list[dict[str, Any]]:
    with database_errors(f"could not read the history of {bank_code}"):
        q = query("account_orders")
        return [dict(r) for r in await pool.fetch(q.text, *q.args(bank_code=bank_code, account_number=number))]


async def account_links(pool: asyncpg.Pool, bank_code: str, number: str) -> list[dict[str, Any]]:
    with database_errors(f"could not read the history of {bank_code}"):
        q = query("account_links")
        return [dict(r) for r in await pool.fetch(q.text, *q.args(bank_code=bank_code, account_number=number))]


async def totals(
    pool: asyncpg.Pool, since: datetime, until: datetime, station_id: str | None, bank_code: str | None
) -> Totals:
    with database_errors("could not compute the report"):
        q = query("report")
        row = await pool.fetchrow(q.text, *q.args(since=since, until=until, station_id=station_id, bank_code=bank_code))
    assert row is not None
    return Totals(**dict(row))


async def events(
    pool: asyncpg.Pool, since: datetime, until: datetime, case_id: uuid.UUID | None, batch: int = 500
) -> AsyncIterator[dict[str, Any]]:
    """The events in order, read through a cursor so an export of millions stays small in memory."""
    with database_errors("could not export the events"):
        async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            q = query("export_events")
            async for row in conn.cursor(q.text, *q.args(since=since, until=until, case_id=case_id), prefetch=batch):
                yield dict(row)

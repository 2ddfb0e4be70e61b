"""Reads for auditors: an account's history, totals over a period, and the event log for export."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
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


@dataclass(frozen=True, slots=True)
class GroupFigures:
    """One group of a report's statistics (a row of ``sql/report_groups.sql``); money in fen."""

    key: str
    cases: int
    reported_minor: int
    stopped_minor: int
    frozen_minor: int
    returned_minor: int
    exited_minor: int
    held_cases: int
    p50_ms: int
    p95_ms: int
    p99_ms: int


@dataclass(frozen=True, slots=True)
class AccountOrder:
    """One order at an account, with the case it belongs to (a row of ``sql/account_orders.sql``)."""

    case_id: uuid.UUID
    order_id: uuid.UUID
    kind: str
    level: int
    status: str
    requested_minor: int
    held_minor: int
    released_minor: int
    reason_code: str
    created_at: datetime
    resolved_at: datetime | None
    station_id: str
    report_no: str
    victim_name: str


@dataclass(frozen=True, slots=True)
class AccountLink:
    """A transfer into an account that a later case reported again (a row of ``sql/account_links.sql``)."""

    case_id: uuid.UUID  # the later case
    station_id: str
    created_at: datetime  # when the later case was accepted
    linked_case_id: uuid.UUID  # the case that traces the transfer
    txn_id: str
    amount_minor: int


@dataclass(frozen=True, slots=True)
class ExportedEvent:
    """An event with what an auditor needs to recompute its hash (a row of ``sql/export_events.sql``)."""

    case_id: uuid.UUID
    seq: int
    chain_pos: int
    at: datetime
    actor: str
    kind: str
    order_id: uuid.UUID | None
    detail: Any  # the parsed JSON
    detail_text: str  # the detail exactly as stored (jsonb's text), which the hash covers
    prev_hash: bytes
    hash: bytes


async def account_orders(pool: asyncpg.Pool, bank_code: str, number: str) -> list[AccountOrder]:
    """Every order of every case that touched the account, newest first."""
    with database_errors(f"could not read the history of {bank_code}"):
        q = query("account_orders")
        return [
            AccountOrder(**dict(r))
            for r in await pool.fetch(q.text, *q.args(bank_code=bank_code, account_number=number))
        ]


async def account_links(pool: asyncpg.Pool, bank_code: str, number: str) -> list[AccountLink]:
    """The transfers into the account that a later case reported again, oldest report first."""
    with database_errors(f"could not read the history of {bank_code}"):
        q = query("account_links")
        return [
            AccountLink(**dict(r))
            for r in await pool.fetch(q.text, *q.args(bank_code=bank_code, account_number=number))
        ]


async def totals(
    pool: asyncpg.Pool, since: datetime, until: datetime, station_id: str | None, bank_code: str | None
) -> Totals:
    with database_errors("could not compute the report"):
        q = query("report")
        row = await pool.fetchrow(q.text, *q.args(since=since, until=until, station_id=station_id, bank_code=bank_code))
    assert row is not None
    return Totals(**dict(row))


async def groups(
    pool: asyncpg.Pool,
    since: datetime,
    until: datetime,
    station_id: str | None,
    bank_code: str | None,
    group_by: str,
    utc_offset_minutes: int,
    key_shift_months: int = 0,
) -> list[GroupFigures]:
    """The statistics of the cases whose victim reported in [since, until), one row per group, in
    order of key; ``group_by`` is "fraud_type", "station", "month" or "none"."""
    with database_errors("could not compute the report"):
        q = query("report_groups")
        rows = await pool.fetch(
            q.text,
            *q.args(
                since=since,
                until=until,
                station_id=station_id,
                bank_code=bank_code,
                group_by=group_by,
                utc_offset_minutes=utc_offset_minutes,
                key_shift_months=key_shift_months,
            ),
        )
    return [GroupFigures(**dict(r)) for r in rows]


async def events(
    pool: asyncpg.Pool,
    since: datetime,
    until: datetime,
    case_id: uuid.UUID | None,
    batch: int = 500,
    kinds: Sequence[str] = (),
) -> AsyncIterator[ExportedEvent]:
    """The events in order (of ``kinds`` only, when given), read through a cursor so an export of
    millions stays small in memory."""
    with database_errors("could not export the events"):
        async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            q = query("export_events")
            async for row in conn.cursor(
                q.text, *q.args(since=since, until=until, case_id=case_id, kinds=list(kinds)), prefetch=batch
            ):
                yield ExportedEvent(**dict(row))


@dataclass(frozen=True, slots=True)
class RepeatAccountCase:
    """One case at an account several cases' trails reached (a row of ``sql/repeat_accounts.sql``)."""

    bank_code: str
    account_number: str
    case_count: int
    case_id: uuid.UUID
    station_id: str
    level: int
    holder_name: str
    held_minor: int
    traced_minor: int
    returned_minor: int


async def repeat_accounts(pool: asyncpg.Pool, min_cases: int) -> list[RepeatAccountCase]:
    """Every account on the trails of at least ``min_cases`` cases, one row per case there: most
    cases first, then by account, each account's cases oldest first."""
    with database_errors("could not list the repeat accounts"):
        q = query("repeat_accounts")
        return [RepeatAccountCase(**dict(r)) for r in await pool.fetch(q.text, *q.args(min_cases=min_cases))]

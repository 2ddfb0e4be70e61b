"""Reads for auditors and supervisors: a case's whole trail, an account's history, totals over a
period, the event log for export, and the verification of the log (also straight from a database,
for ``stopay audit verify --dsn``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from stopay.domain.case import CaseView
from stopay.domain.clock import EPOCH, FOREVER
from stopay.store import cases, checkpoints, reports
from stopay.store.checkpoints import Verified
from stopay.store.database import open_pool
from stopay.store.reports import AccountLink, AccountOrder, ExportedEvent, GroupFigures, RepeatAccountCase, Totals

__all__ = [
    "AccountHistory",
    "AccountLink",
    "AccountOrder",
    "Audit",
    "ExportedEvent",
    "GroupFigures",
    "RepeatAccountCase",
    "Statistic",
    "Totals",
    "Trail",
    "Verified",
]


@dataclass(frozen=True, slots=True)
class Trail:
    case: CaseView
    events: list[ExportedEvent]  # every event of the case, in order


@dataclass(frozen=True, slots=True)
class AccountHistory:
    orders: list[AccountOrder]  # every order of any case at the account
    links: list[AccountLink]  # transfers to the account reported again by another case


@dataclass(frozen=True, slots=True)
class Statistic:
    """One group of a report's statistics, and the same group a year earlier when asked for."""

    key: str
    figures: GroupFigures
    previous_year: GroupFigures | None


def year_earlier(at: datetime, utc_offset_minutes: int) -> datetime:
    """The same wall-clock time one calendar year earlier at the given offset (29 February: the
    28th)."""
    local = at.astimezone(timezone(timedelta(minutes=utc_offset_minutes)))
    day = 28 if (local.month, local.day) == (2, 29) else local.day
    return local.replace(year=local.year - 1, day=day)


def _empty(key: str) -> GroupFigures:
    return GroupFigures(key, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)


class Audit:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        # Verifications run through this object (VerifyLog; audit verify --dsn in its own process),
        # and those that found a chain broken or a checkpoint wrong (the metrics count them).
        self.verifications = 0
        self.verify_failures = 0

    @classmethod
    async def open(cls, dsn: str) -> Audit:
        """The log of the database at ``dsn``, read straight from it: no server, no migrations run.
        ``close()`` it when done (only one opened so: the others share the server's pool)."""
        return cls(await open_pool(dsn, min_size=1, max_size=2, run_migrations=False))

    async def close(self) -> None:
        await self._pool.close()

    async def trail(self, case_id: uuid.UUID) -> Trail | None:
        """The case and every event of it; None when there is no such case."""
        case = await cases.get_case(self._pool, case_id)
        if case is None:
            return None
        return Trail(case, [r async for r in reports.events(self._pool, EPOCH, FOREVER, case_id)])

    async def account(self, bank_code: str, number: str) -> AccountHistory:
        return AccountHistory(
            await reports.account_orders(self._pool, bank_code, number),
            await reports.account_links(self._pool, bank_code, number),
        )

    async def totals(self, since: datetime, until: datetime, station_id: str | None, bank_code: str | None) -> Totals:
        return await reports.totals(self._pool, since, until, station_id, bank_code)

    async def statistics(
        self,
        since: datetime,
        until: datetime,
        station_id: str | None,
        bank_code: str | None,
        group_by: str,
        utc_offset_minutes: int,
        compare_previous_year: bool = False,
    ) -> list[Statistic]:
        """The groups of the cases whose victim reported in [since, until); with
        ``compare_previous_year`` each also with the same group over the period a year earlier (a
        month keyed as the month a year later, so that it meets its own). Groups in order of key;
        a group that had cases only a year earlier is there with zero figures now."""
        now = await reports.groups(self._pool, since, until, station_id, bank_code, group_by, utc_offset_minutes)
        if not compare_previous_year:
            return [Statistic(g.key, g, None) for g in now]
        before = await reports.groups(
            self._pool,
            year_earlier(since, utc_offset_minutes),
            year_earlier(until, utc_offset_minutes),
            station_id,
            bank_code,
            group_by,
            utc_offset_minutes,
            key_shift_months=12,
        )
        current = {g.key: g for g in now}
        previous = {g.key: g for g in before}
        return [
            Statistic(key, current.get(key) or _empty(key), previous.get(key) or _empty(key))
            for key in sorted(current.keys() | previous.keys())
        ]

    def events(
        self, since: datetime, until: datetime, case_id: uuid.UUID | None, kinds: Sequence[str] = ()
    ) -> AsyncIterator[ExportedEvent]:
        """The events in order (of ``kinds`` only, when given), read through a cursor (an export of
        millions stays small in memory)."""
        return reports.events(self._pool, since, until, case_id, kinds=kinds)

    async def repeat_accounts(self, min_cases: int) -> list[RepeatAccountCase]:
        """The accounts on the trails of at least ``min_cases`` cases, a row per case there."""
        return await reports.repeat_accounts(self._pool, min_cases)

    async def verify(self, public_keys: Sequence[Ed25519PublicKey] = ()) -> Verified:
        """Recomputes every hash chain and, with ``public_keys``, checks every signed checkpoint."""
        verified = await checkpoints.verify(self._pool, list(public_keys))
        self.verifications += 1
        if not verified.ok:
            self.verify_failures += 1
        return verified

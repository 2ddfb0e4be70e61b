"""Holds on PostgreSQL: each step runs in one transaction that locks, in the order every writer
keeps (trail rows, then holds, then chain heads, each in case_id order), reads, and writes."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from stopay.domain.errors import HoldNotFound, RequestConflict
from stopay.domain.holds import HoldView
from stopay.store.errors import database_errors
from stopay.store.queries import sql


@dataclass(frozen=True, slots=True)
class TrailFigures:
    held_minor: int
    in_flight_minor: int
    releasing_minor: int
    level: int
    holder_name: str
    incoming: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AccountShare:
    """One case's figures on an account whose money is being returned."""

    case_id: uuid.UUID
    held_minor: int
    in_flight_minor: int
    releasing_minor: int
    incoming: dict[str, Any]
    hold_state: str | None
    expired: bool = False
    lapses_first: bool = False  # its hold expires before a notice starting now would end
    last_extension: str | None = None  # status of the latest extend order of its hold


def hold_view(row: asyncpg.Record) -> HoldView:
    fields = {k: row[k] for k in HoldView.__dataclass_fields__ if k in row.keys()}
    return HoldView(**fields)


class HoldTransaction:
    def __init__(self, conn: asyncpg.Connection, actor: str) -> None:
        self.conn = conn
        self.actor = actor

    async def claim_request(self, request_id: str, action: str, digest: bytes) -> dict[str, Any] | None:
        """None when this request is new; else what it came to when it was taken before with the
        same content (see :meth:`keep_result`)."""
        with database_errors("could not record the request"):
            row = await self.conn.fetchrow(sql("hold_request"), request_id, action, digest)
            if row is None:  # a concurrent first request got there first; read what it recorded
                row = await self.conn.fetchrow(sql("hold_request_seen"), request_id)
        if row["fresh"]:
            return None
        if bytes(row["payload_sha256"]) != digest:
            raise RequestConflict(f"request_id {request_id!r} was already used for another step", request_id)
        return row["result"] or {}

    async def keep_result(self, request_id: str, result: dict[str, Any]) -> None:
        with database_errors("could not record the request"):
            await self.conn.execute(sql("hold_request_result"), request_id, result)

    async def lock_one(self, case_id: uuid.UUID, bank_code: str, number: str) -> tuple[TrailFigures, HoldView]:
        with database_errors("could not lock the hold"):
            trail = await self.conn.fetchrow(sql("hold_trail_lock"), case_id, bank_code, number)
            hold = await self.conn.fetchrow(sql("hold_row"), case_id, bank_code, number) if trail else None
            if hold is None:
                raise HoldNotFound(f"case {case_id} holds nothing on that account")
            await self.conn.execute(sql("chain_lock"), [case_id])
        return TrailFigures(**dict(trail)), hold_view(hold)

    async def write(
        self,
        hold: HoldView,
        *,
        state: str,
        stops: int,
        freezes: int,
        major: bool,
        document: dict[str, Any] | None,
        months: int | None,
        hours: int,
        from_expiry: bool,
        end_reason: str,
        out_minor: int,
        orders: Sequence[dict[str, Any]],
        events: Sequence[dict[str, Any]],
        cap_minor: int | None = None,
    ) -> HoldView:
        with database_errors("could not write the hold"):
            row = await self.conn.fetchrow(
                sql("hold_write"),
                hold.case_id,
                hold.bank_code,
                hold.account_number,
                state,
                stops,
                freezes,
                major,
                document,
                months,
                hours,
                from_expiry,
                end_reason,
                out_minor,
                list(orders),
                list(events),
                self.actor,
                cap_minor,
            )
        return hold_view(row)

    async def warn(self, hold: HoldView, stop_warn_hours: int, freeze_warn_days: int) -> bool:
        with database_errors("could not warn of the hold's expiry"):
            row = await self.conn.fetchrow(
                sql("hold_warn"),
                hold.case_id,
                hold.bank_code,
                hold.account_number,
                self.actor,
                stop_warn_hours,
                freeze_warn_days,
            )
        return row is not None

    async def pay(self, hold: HoldView) -> bool:
        with database_errors("could not start the return's payments"):
            row = await self.conn.fetchrow(
                sql("return_pay"), hold.case_id, hold.bank_code, hold.account_number, self.actor
            )
        return row is not None

    async def lock_account(self, bank_code: str, number: str, notice_days: int) -> list[AccountShare]:
        """Every case's figures and hold on the account, locked; their chain heads too."""
        with database_errors("could not lock the account"):
            trail = await self.conn.fetch(sql("account_trail_lock"), bank_code, number)
            holds = await self.conn.fetch(sql("account_holds"), bank_code, number, notice_days)
            await self.conn.execute(sql("chain_lock"), [r["case_id"] for r in trail])
        found = {h["case_id"]: h for h in holds}
        shares = []
        for r in trail:
            h = found.get(r["case_id"])
            shares.append(
                AccountShare(
                    r["case_id"],
                    r["held_minor"],
                    r["in_flight_minor"],
                    r["releasing_minor"],
                    r["incoming"],
                    h["state"] if h else None,
                    bool(h and h["expired"]),
                    bool(h and h["lapses_first"]),
                    h["last_extension"] if h else None,
                )
            )
        return shares

    async def current(self, case_id: uuid.UUID, bank_code: str, number: str) -> HoldView:
        """The hold as it is, read on this transaction's connection."""
        with database_errors("could not read the hold"):
            rows = await self.conn.fetch(sql("case_holds"), case_id)
        for row in rows:
            if (row["bank_code"], row["account_number"]) == (bank_code, number):
                return hold_view(row)
        raise HoldNotFound(f"case {case_id} holds nothing on that account")

    async def victim_accounts(self, cases: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, str]]:
        with database_errors("could not read the victims' accounts"):
            rows = await self.conn.fetch(sql("victim_accounts"), list(cases))
        return {
            r["case_id"]: {"bank_code": r["payer_bank"], "number": r["payer_number"], "holder_name": r["payer_holder"]}
            for r in rows
        }

    async def write_return(
        self,
        bank_code: str,
        number: str,
        payers: Sequence[dict[str, Any]],
        direct: bool,
        notice_days: int,
        orders: Sequence[dict[str, Any]],
        events: Sequence[dict[str, Any]],
    ) -> datetime:
        with database_errors("could not start the return"):
            row = await self.conn.fetchrow(
                sql("return_write"),
                bank_code,
                number,
                list(payers),
                direct,
                notice_days,
                list(orders),
                list(events),
                self.actor,
            )
        return row["due_at"]


@contextlib.asynccontextmanager
async def hold_transaction(pool: asyncpg.Pool, actor: str) -> AsyncIterator[HoldTransaction]:
    with database_errors("could not open a hold transaction"):
        async with pool.acquire() as conn, conn.transaction():
            yield HoldTransaction(conn, actor)


async def list_holds(
    pool: asyncpg.Pool, case_id: uuid.UUID | None, bank_code: str = "", number: str = ""
) -> list[HoldView]:
    """The holds of a case, or (``case_id`` None) every case's hold on one account."""
    with database_errors("could not read holds"):
        if case_id is not None:
            rows = await pool.fetch(sql("case_holds"), case_id)
        else:
            rows = await pool.fetch(sql("account_hold_list"), bank_code, number)
    return [hold_view(r) for r in rows]


async def due(
    pool: asyncpg.Pool, limit: int, stop_warn_hours: int, freeze_warn_days: int
) -> list[tuple[str, uuid.UUID, str, str]]:
    with database_errors("could not read the holds due"):
        rows = await pool.fetch(sql("holds_due"), limit, stop_warn_hours, freeze_warn_days)
    return [(r["action"], r["case_id"], r["bank_code"], r["account_number"]) for r in rows]

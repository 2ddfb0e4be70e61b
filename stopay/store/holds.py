"""Holds on PostgreSQL: each step runs in one transaction that locks, in the order every writer
keeps (trail rows, then holds, then chain heads, each in case_id order), reads, and writes.

Rows read come back typed (hold states as :class:`HoldState`); rows written in a batch are the
``*Row`` classes below, each matching the ``jsonb_to_recordset`` column list of the SQL file that
reads it (store/rows.py; a test checks they agree).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from stopay.domain.attribution import parts_from_json
from stopay.domain.entry import Party
from stopay.domain.errors import HoldNotFound, RequestConflict
from stopay.domain.holds import HoldEnd, HoldState, HoldView, SweepAction
from stopay.domain.orders import OrderKind, OrderStatus
from stopay.domain.returns import CaseOnAccount
from stopay.store.errors import database_errors
from stopay.store.queries import query
from stopay.store.rows import json_rows

# ---- rows written in a batch (jsonb_to_recordset) ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class HoldOrderRow:
    """An order to the bank a hold's move makes (hold_write.sql :orders)."""

    order_id: uuid.UUID
    kind: OrderKind  # extend or release
    requested_minor: int
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class HoldEventRow:
    """An event of the hold's case a hold's move appends (hold_write.sql :events)."""

    kind: str
    order_id: uuid.UUID | None
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CaseEventRow:
    """An event appended to one case's chain, in a step over several cases (return_write.sql and
    approval_request.sql :events)."""

    case_id: uuid.UUID
    kind: str
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PayingHoldRow:
    """A hold that pays in a return, and what goes out of it (return_write.sql :paying)."""

    case_id: uuid.UUID
    out_minor: int


@dataclass(frozen=True, slots=True)
class ReturnOrderRow:
    """A return order, of the paying case (return_write.sql :orders)."""

    case_id: uuid.UUID
    order_id: uuid.UUID
    requested_minor: int
    params: dict[str, Any]


# ---- rows read ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrailFigures:
    held_minor: int
    in_flight_minor: int
    releasing_minor: int
    left_minor: int
    level: int
    holder_name: str
    incoming: dict[str, Any]
    now: datetime  # the hold lifecycle's clock (stopay_now()) in this transaction


def hold_view(row: asyncpg.Record) -> HoldView:
    fields = {k: row[k] for k in HoldView.__dataclass_fields__ if k in row.keys()}
    fields["state"] = HoldState(fields["state"])
    fields["end_reason"] = HoldEnd(fields["end_reason"])
    return HoldView(**fields)


class HoldTransaction:
    def __init__(self, conn: asyncpg.Connection, actor: str) -> None:
        self.conn = conn
        self.actor = actor

    async def claim_request(self, request_id: str, action: str, digest: bytes) -> dict[str, Any] | None:
        """None when this request is new; else what it came to when it was taken before with the
        same content (see :meth:`keep_result`)."""
        q = query("hold_request")
        with database_errors("could not record the request"):
            row = await self.conn.fetchrow(q.text, *q.args(request_id=request_id, action=action, digest=digest))
            if row is None:  # a concurrent first request got there first; read what it recorded
                seen = query("hold_request_seen")
                row = await self.conn.fetchrow(seen.text, *seen.args(request_id=request_id))
        if row["fresh"]:
            return None
        if bytes(row["payload_sha256"]) != digest:
            raise RequestConflict(f"request_id {request_id!r} was already used for another step", request_id)
        return row["result"] or {}

    async def keep_result(self, request_id: str, result: dict[str, Any]) -> None:
        q = query("hold_request_result")
        with database_errors("could not record the request"):
            await self.conn.execute(q.text, *q.args(request_id=request_id, result=result))

    async def lock_one(self, case_id: uuid.UUID, bank_code: str, number: str) -> tuple[TrailFigures, HoldView]:
        key = {"case_id": case_id, "bank_code": bank_code, "account_number": number}
        trail_lock, hold_row = query("hold_trail_lock"), query("hold_row")
        with database_errors("could not lock the hold"):
            trail = await self.conn.fetchrow(trail_lock.text, *trail_lock.bind(key))
            hold = await self.conn.fetchrow(hold_row.text, *hold_row.bind(key)) if trail else None
            if hold is None:
                raise HoldNotFound(f"case {case_id} holds nothing on that account")
            q = query("chain_lock")
            await self.conn.execute(q.text, *q.args(case_ids=[case_id]))
        return TrailFigures(**dict(trail)), hold_view(hold)

    async def write(
        self,
        hold: HoldView,
        *,
        state: HoldState,
        stops: int,
        freezes: int,
        major: bool,
        document: dict[str, Any] | None,
        months: int | None,
        hours: int,
        from_expiry: bool,
        end_reason: HoldEnd,
        out_minor: int,
        left_minor: int,
        orders: Sequence[HoldOrderRow],
        events: Sequence[HoldEventRow],
    ) -> HoldView:
        q = query("hold_write")
        with database_errors("could not write the hold"):
            row = await self.conn.fetchrow(
                q.text,
                *q.args(
                    case_id=hold.case_id,
                    bank_code=hold.bank_code,
                    account_number=hold.account_number,
                    state=state.value,
                    stops=stops,
                    freezes=freezes,
                    major=major,
                    document=document,
                    months=months,
                    hours=hours,
                    from_expiry=from_expiry,
                    ended=state.ended,
                    end_reason=end_reason.value,
                    out_minor=out_minor,
                    left_minor=left_minor,
                    orders=json_rows(orders),
                    events=json_rows(events),
                    actor=self.actor,
                ),
            )
        return hold_view(row)

    async def warn(self, hold: HoldView) -> bool:
        """Marks the hold's coming expiry as warned of (the caller asked the domain that it is due)."""
        q = query("hold_warn")
        with database_errors("could not warn of the hold's expiry"):
            row = await self.conn.fetchrow(q.text, *q.args(actor=self.actor, **_key(hold)))
        return row is not None

    async def pay(self, hold: HoldView) -> bool:
        """Releases a return's parked payments (the caller asked the domain that its notice ended)."""
        q = query("return_pay")
        with database_errors("could not start the return's payments"):
            row = await self.conn.fetchrow(q.text, *q.args(actor=self.actor, **_key(hold)))
        return row is not None

    async def lock_account(self, bank_code: str, number: str) -> tuple[list[CaseOnAccount], datetime | None]:
        """Every case's figures and hold on the account, locked; their chain heads too. With the hold
        lifecycle's clock (None when no case traced money there)."""
        key = {"bank_code": bank_code, "account_number": number}
        trail_lock, account_holds = query("account_trail_lock"), query("account_holds")
        with database_errors("could not lock the account"):
            trail = await self.conn.fetch(trail_lock.text, *trail_lock.bind(key))
            holds = await self.conn.fetch(account_holds.text, *account_holds.bind(key))
            q = query("chain_lock")
            await self.conn.execute(q.text, *q.args(case_ids=[r["case_id"] for r in trail]))
        found = {h["case_id"]: h for h in holds}
        cases = []
        for r in trail:
            h = found.get(r["case_id"])
            cases.append(
                CaseOnAccount(
                    str(r["case_id"]),
                    HoldState(h["state"]) if h else None,
                    r["held_minor"],
                    r["in_flight_minor"],
                    r["releasing_minor"],
                    tuple(parts_from_json(item.get("parts", ())) for item in r["incoming"].values()),
                    h["expires_at"] if h else None,
                    OrderStatus(h["last_extension"]) if h and h["last_extension"] else None,
                )
            )
        return cases, (trail[0]["now"] if trail else None)

    async def current(self, case_id: uuid.UUID, bank_code: str, number: str) -> HoldView:
        """The hold as it is, read on this transaction's connection."""
        with database_errors("could not read the hold"):
            q = query("case_holds")
            rows = await self.conn.fetch(q.text, *q.args(case_id=case_id))
        for row in rows:
            if (row["bank_code"], row["account_number"]) == (bank_code, number):
                return hold_view(row)
        raise HoldNotFound(f"case {case_id} holds nothing on that account")

    async def victim_accounts(self, cases: Sequence[uuid.UUID]) -> dict[uuid.UUID, Party]:
        """Where each case pays its victim back: the paying account of its first transfer."""
        q = query("victim_accounts")
        with database_errors("could not read the victims' accounts"):
            rows = await self.conn.fetch(q.text, *q.args(cases=list(cases)))
        return {r["case_id"]: Party(r["payer_bank"], r["payer_number"], r["payer_holder"]) for r in rows}

    async def write_return(
        self,
        bank_code: str,
        number: str,
        paying: Sequence[PayingHoldRow],
        notice_days: int,
        parked: bool,
        orders: Sequence[ReturnOrderRow],
        events: Sequence[CaseEventRow],
    ) -> datetime:
        q = query("return_write")
        with database_errors("could not start the return"):
            row = await self.conn.fetchrow(
                q.text,
                *q.args(
                    bank_code=bank_code,
                    account_number=number,
                    paying=json_rows(paying),
                    notice_days=notice_days,
                    parked=parked,
                    orders=json_rows(orders),
                    events=json_rows(events),
                    actor=self.actor,
                ),
            )
        return row["due_at"]


def _key(hold: HoldView) -> dict[str, Any]:
    return {"case_id": hold.case_id, "bank_code": hold.bank_code, "account_number": hold.account_number}


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
            q = query("case_holds")
            rows = await pool.fetch(q.text, *q.args(case_id=case_id))
        else:
            q = query("account_hold_list")
            rows = await pool.fetch(q.text, *q.args(bank_code=bank_code, account_number=number))
    return [hold_view(r) for r in rows]


async def due(
    pool: asyncpg.Pool, limit: int, warnings: Mapping[HoldState, timedelta]
) -> list[tuple[SweepAction, uuid.UUID, str, str]]:
    """What the sweeper has to do, up to ``limit`` of each action; ``warnings`` are the domain's
    warning windows (:meth:`HoldPolicy.warnings`)."""
    q = query("holds_due")
    args = q.args(
        batch=limit,
        warn_states=[state.value for state in warnings],
        warn_windows=list(warnings.values()),
    )
    with database_errors("could not read the holds due"):
        rows = await pool.fetch(q.text, *args)
    return [(SweepAction(r["action"]), r["case_id"], r["bank_code"], r["account_number"]) for r in rows]

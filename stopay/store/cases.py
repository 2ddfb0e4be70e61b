"""Reads cases back: one case with its orders, pages of cases, and a case's events."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any

import asyncpg

from stopay.domain.attribution import OWN
from stopay.domain.case import CaseEvent, CaseSearch, CaseView, ExitView, IncomingView, OrderView, SharedAccount
from stopay.domain.entry import Party
from stopay.domain.orders import OrderKind, OrderStatus
from stopay.domain.review import ReviewState
from stopay.domain.trail import BACK_WITH_VICTIM
from stopay.store.entries import link
from stopay.store.errors import database_errors
from stopay.store.holds import hold_view
from stopay.store.queries import query


def _case(row: asyncpg.Record, orders: tuple[OrderView, ...] = (), exits: tuple[ExitView, ...] = ()) -> CaseView:
    return CaseView(
        case_id=row["case_id"],
        entry_id=row["entry_id"],
        station_id=row["station_id"],
        officer_id=row["officer_id"],
        report_no=row["report_no"],
        victim_name=row["victim_name"],
        fraud_type=row["fraud_type"],
        currency=row["currency"],
        reported_minor=row["reported_minor"],
        held_minor=row["held_minor"],
        exited_minor=row["exited_minor"],
        order_count=row["order_count"],
        open_orders=row["open_orders"],
        created_at=row["created_at"],
        rule=row["rule"],
        max_depth=row["max_depth"],
        min_amount=row["min_amount"],
        orders=orders,
        exits=exits,
        returned_minor=row["returned_minor"],
        linked_minor=row["linked_minor"],
        back_with_victim_minor=row["back_with_victim_minor"],
        review=None if row["review_state"] is None else ReviewState(row["review_state"]),
        awaiting_review_orders=row["awaiting_orders"],
        awaiting_review_minor=row["awaiting_minor"],
    )


def _incoming(item: dict[str, Any]) -> IncomingView:
    return IncomingView(
        txn_id=item["txn_id"],
        amount_minor=item["amount_minor"],
        traced_minor=sum(amount for name, amount in item.get("parts", ()) if name != OWN),
        at=datetime.fromisoformat(item["at"]),
        payer=Party(item["payer_bank"], item["payer_number"], item["payer_holder"]),
    )


def _exit(row: asyncpg.Record) -> ExitView:
    return ExitView(
        txn_id=row["txn_id"],
        order_id=row["order_id"],
        bank_code=row["bank_code"],
        account_number=row["account_number"],
        level=row["level"],
        kind=row["exit_kind"],
        amount_minor=row["amount_minor"],
        exited_at=row["exited_at"],
    )


def _order(row: asyncpg.Record) -> OrderView:
    return OrderView(
        order_id=row["order_id"],
        parent_order_id=row["parent_order_id"],
        kind=OrderKind(row["kind"]),
        level=row["level"],
        bank_code=row["bank_code"],
        account_number=row["account_number"],
        holder_name=row["holder_name"],
        currency=row["currency"],
        requested_minor=row["requested_minor"],
        asked_minor=row["freeze_minor"] or 0,
        held_minor=row["held_minor"],
        released_minor=row["released_minor"],
        status=OrderStatus(row["status"]),
        reason_code=row["reason_code"],
        detail=row["detail"],
        incoming=tuple(_incoming(i) for i in row["incoming"]),
        attempts=row["attempts"],
        created_at=row["created_at"],
        resolved_at=row["resolved_at"],
        retry_of=row["retry_of"],
    )


async def get_case(pool: asyncpg.Pool, case_id: uuid.UUID) -> CaseView | None:
    """The case with its orders, read in one snapshot so totals and orders agree."""
    with database_errors(f"could not read case {case_id}"):
        async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            return await _read_case(conn, case_id)


async def look(pool: asyncpg.Pool, case_id: uuid.UUID, after_seq: int) -> tuple[CaseView | None, list[CaseEvent]]:
    """The case (None: no such case) and its events after ``after_seq``, in one snapshot, through
    one connection: what a watched case's change is read with."""
    with database_errors(f"could not read case {case_id}"):
        async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            case = await _read_case(conn, case_id)
            if case is None:
                return None, []
            q = query("case_events")
            rows = await conn.fetch(q.text, *q.args(case_id=case_id, after_seq=after_seq))
    return case, [CaseEvent(**dict(r)) for r in rows]


async def _read_case(conn: asyncpg.Connection, case_id: uuid.UUID) -> CaseView | None:
    q = query("get_case")
    row = await conn.fetchrow(q.text, *q.args(case_id=case_id))
    if row is None:
        return None
    q = query("case_orders")
    orders = await conn.fetch(q.text, *q.args(case_id=case_id))
    q = query("case_exits")
    exits = await conn.fetch(q.text, *q.args(case_id=case_id))
    q = query("case_holds")
    holds = await conn.fetch(q.text, *q.args(case_id=case_id))
    q = query("case_links")
    links = await conn.fetch(q.text, *q.args(case_id=case_id))
    q = query("case_shared_accounts")
    shared = await conn.fetch(q.text, *q.args(case_id=case_id))
    ends = [_exit(x) for x in exits]
    return replace(
        _case(row, tuple(_order(o) for o in orders), tuple(x for x in ends if x.kind != BACK_WITH_VICTIM)),
        holds=tuple(hold_view(h) for h in holds),
        links=tuple(link(r) for r in links),
        shared=tuple(
            SharedAccount(
                r["bank_code"],
                r["account_number"],
                r["holder_name"],
                tuple(r["other_case_ids"]),
                r["held_by_others_minor"],
            )
            for r in shared
        ),
        back=tuple(x for x in ends if x.kind == BACK_WITH_VICTIM),
    )


async def list_cases(
    pool: asyncpg.Pool,
    search: CaseSearch,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
    station_prefixes: tuple[str, ...] | None = None,
) -> list[CaseView]:
    """The cases ``search`` finds, newest first; only the stations whose ids start with one of
    ``station_prefixes`` when given."""
    with database_errors("could not list cases"):
        q = query("list_cases")
        rows = await pool.fetch(
            q.text,
            *q.args(
                station_id=search.station_id,
                station_prefixes=list(station_prefixes) if station_prefixes is not None else None,
                report_no=search.report_no,
                victim_name=search.victim_name,
                bank_code=search.account[0] if search.account else None,
                account_number=search.account[1] if search.account else None,
                created_from=search.created_from,
                created_until=search.created_until,
                settled=search.settled,
                after_created_at=after[0] if after else None,
                after_case_id=after[1] if after else None,
                limit=limit,
            ),
        )
    return [_case(r) for r in rows]


async def station_of(pool: asyncpg.Pool, case_id: uuid.UUID) -> str | None:
    """The station that submitted the case; None when there is no such case."""
    with database_errors("could not read the case's station"):
        q = query("case_station")
        return await pool.fetchval(q.text, *q.args(case_id=case_id))


async def events_since(pool: asyncpg.Pool, case_id: uuid.UUID, after_seq: int) -> list[CaseEvent]:
    with database_errors(f"could not read events of case {case_id}"):
        q = query("case_events")
        rows = await pool.fetch(q.text, *q.args(case_id=case_id, after_seq=after_seq))
    return [CaseEvent(**dict(r)) for r in rows]

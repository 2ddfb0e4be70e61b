"""Writes an accepted entry: the case, its transfers and its level-1 orders, in one statement."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from stopay.domain.case import CaseLink
from stopay.domain.entry import Entry, Party, PlannedOrder, level1_orders
from stopay.domain.errors import EntryConflict
from stopay.domain.trail import Limits, label
from stopay.store.errors import database_errors
from stopay.store.queries import query
from stopay.store.rows import json_rows


@dataclass(frozen=True, slots=True)
class TransferRow:
    """A transfer of the entry (submit_entry.sql :transfers)."""

    ordinal: int
    txn_id: str
    payer_bank: str
    payer_number: str
    payer_holder: str
    payee_bank: str
    payee_number: str
    payee_holder: str
    amount_minor: int
    transferred_at: datetime
    channel: str


@dataclass(frozen=True, slots=True)
class OrderRow:
    """A level-1 freeze order the entry opens (submit_entry.sql :orders)."""

    order_id: uuid.UUID
    level: int
    bank_code: str
    account_number: str
    holder_name: str
    requested_minor: int
    incoming: list[dict[str, object]]
    stop_order_id: uuid.UUID  # its stop, which asks to freeze requested_minor at once


def _transfers(entry: Entry) -> list[TransferRow]:
    return [
        TransferRow(
            ordinal=i,
            txn_id=t.txn_id,
            payer_bank=t.payer.bank_code,
            payer_number=t.payer.number,
            payer_holder=t.payer.holder_name,
            payee_bank=t.payee.bank_code,
            payee_number=t.payee.number,
            payee_holder=t.payee.holder_name,
            amount_minor=t.amount_minor,
            transferred_at=t.transferred_at,
            channel=t.channel,
        )
        for i, t in enumerate(entry.transfers)
    ]


def incoming_json(order: PlannedOrder) -> list[dict[str, object]]:
    return [
        {
            "txn_id": t.txn_id,
            "amount_minor": t.amount_minor,
            "at": t.transferred_at.isoformat(),
            "payer_bank": t.payer.bank_code,
            "payer_number": t.payer.number,
            "payer_holder": t.payer.holder_name,
            # All of a victim's payment is the victim's money at level 1.
            "parts": [[label(1), t.amount_minor]],
            "rev": 0,
        }
        for t in order.incoming
    ]


def _orders(orders: list[PlannedOrder]) -> list[OrderRow]:
    return [
        OrderRow(
            order_id=o.order_id,
            level=o.level,
            bank_code=o.account.bank_code,
            account_number=o.account.number,
            holder_name=o.account.holder_name,
            requested_minor=o.requested_minor,
            incoming=incoming_json(o),
            stop_order_id=o.stop_order_id,
        )
        for o in orders
    ]


@dataclass(frozen=True, slots=True)
class Submitted:
    case_id: uuid.UUID
    duplicate: bool
    # Transfers of the entry that another case reported first and traces.
    links: tuple[CaseLink, ...] = ()


def link(item: dict[str, Any] | asyncpg.Record) -> CaseLink:
    """A link from a row of case_links.sql or an element of submit_entry.sql's ``linked``."""
    created = item["created_at"]
    return CaseLink(
        case_id=uuid.UUID(str(item["case_id"])),
        txn_id=item["txn_id"],
        payer=Party(item["payer_bank"], item["payer_number"], item["payer_holder"]),
        payee=Party(item["payee_bank"], item["payee_number"], item["payee_holder"]),
        amount_minor=item["amount_minor"],
        station_id=item["station_id"],
        created_at=created if isinstance(created, datetime) else datetime.fromisoformat(created),
        traced_there=item["traced_there"],
    )


async def submit_entry(pool: asyncpg.Pool, entry: Entry, limits: Limits, actor: str) -> tuple[uuid.UUID, bool]:
    """Stores ``entry`` once; returns ``(case_id, duplicate)`` (see :func:`submit`)."""
    submitted = await submit(pool, entry, limits, actor)
    return submitted.case_id, submitted.duplicate


async def submit(
    pool: asyncpg.Pool, entry: Entry, limits: Limits, actor: str, same_transfer_window_s: float = 120.0
) -> Submitted:
    """Stores ``entry`` once, in one statement.

    A retry with the same entry_id and payload is a duplicate; the same entry_id with another
    payload raises :class:`EntryConflict`. Nothing is written unless everything is. A transfer
    another case reported first is recorded and linked to that case, not traced again, when it agrees
    with the first report (amount, payee name, and time within ``same_transfer_window_s``).
    """
    case_id = entry.case_id
    digest = entry.fingerprint()
    q = query("submit_entry")
    args = q.args(
        case_id=case_id,
        entry_id=entry.entry_id,
        payload_sha256=digest,
        station_id=entry.station_id,
        officer_id=entry.officer_id,
        report_no=entry.report_no,
        victim_name=entry.victim.name,
        victim_id_number=entry.victim.id_number,
        victim_phone=entry.victim.phone,
        fraud_type=entry.fraud_type,
        narrative=entry.narrative,
        currency=entry.currency,
        reported_minor=entry.reported_minor,
        transfers=json_rows(_transfers(entry)),
        orders=json_rows(_orders(level1_orders(entry))),
        actor=actor,
        rule=limits.rule,
        max_depth=limits.max_depth,
        min_amount=limits.min_amount,
        same_transfer_window_s=same_transfer_window_s,
        confirmation=entry.confirmation.record() if entry.confirmation is not None else None,
    )
    with database_errors(f"could not store entry {entry.entry_id!r}"):
        row = await pool.fetchrow(q.text, *args)
        assert row is not None
        existing = row["existing_sha256"]
        if row["inserted"] is None and existing is None:
            # A concurrent submission of the same entry committed after this statement's snapshot.
            fingerprint = query("case_fingerprint")
            existing = await pool.fetchval(fingerprint.text, *fingerprint.args(case_id=case_id))
    if row["inserted"] is not None:
        return Submitted(case_id, False, tuple(link(item) for item in row["linked"]))
    # A case accepted before entries carried the victim's confirmation keeps the digest of the entry
    # without it (Entry.unconfirmed_fingerprint): the same entry, confirmed, is a duplicate of it.
    if bytes(existing) != digest and (entry.confirmation is None or bytes(existing) != entry.unconfirmed_fingerprint()):
        raise EntryConflict(entry.entry_id, str(case_id))
    with database_errors(f"could not read the links of case {case_id}"):
        q = query("case_links")
        links = await pool.fetch(q.text, *q.args(case_id=case_id))
    return Submitted(case_id, True, tuple(link(r) for r in links if r["traced_there"]))

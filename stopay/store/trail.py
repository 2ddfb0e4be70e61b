"""What stopay knows of each account in a case, read and written under a row lock.

The dispatcher applies bank answers inside :func:`trail_transaction`: it locks the accounts and the
orders concerned, reads what is known, works out what follows in pure code, and writes the result
with :meth:`TrailTransaction.apply`, all in one transaction.
"""

from __future__ import annotations

import contextlib
import enum
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import asyncpg

from stopay.domain.accounts import AccountKey, CaseAccount
from stopay.domain.holds import HoldPolicy, HoldState
from stopay.domain.orders import OrderKind, OrderStatus
from stopay.domain.review import Reach, ReviewState
from stopay.domain.settlement import AccountMoney
from stopay.store.errors import database_errors
from stopay.store.orders import Claim
from stopay.store.queries import query
from stopay.store.rows import json_rows


@dataclass(slots=True)
class AccountRow:
    case_id: uuid.UUID
    bank_code: str
    account_number: str
    holder_name: str
    level: int
    incoming: dict[str, dict[str, Any]]
    sent: dict[str, Any]
    rev: int
    left_minor: int
    held_minor: int
    in_flight_minor: int
    releasing_minor: int
    # The newest statement line applied (time, then the bank's sequence number).
    seen_at: datetime | None
    seen_seq: int | None
    # The case's hold on the account (store/migrations/0007_holds.sql), None before any is held.
    hold_state: HoldState | None = None
    # The amount the hold's legal document names (None: no document), which a formal freeze may not
    # hold more than (domain/settlement.within_hold).
    hold_document_minor: int | None = None
    # What an objection partly upheld left held (None: no such limit), which the hold may not hold
    # more than from then on.
    hold_limit_minor: int | None = None
    # Exits recorded at the account: txn_id -> the victim's money that left there.
    exited: dict[str, int] = field(default_factory=dict)
    # The accounts the case's victim paid from, [bank_code, number] each.
    victim_accounts: list[list[str]] = field(default_factory=list)
    # The freeze orders the case has opened so far, in all (read under the case's chain lock).
    case_orders: int = 0
    # The case's freeze orders at the account still asking for the statement: while one is due,
    # what a stop held is not judged yet (stop first, domain/settlement.settle).
    statements_due: int = 0
    # Releases answered on the account (of any case), and their count when this case last asked
    # to freeze there (domain/settlement.top_up).
    releases: int = 0
    asked_releases: int = 0
    currency: str = ""  # the case's

    @property
    def key(self) -> CaseAccount:
        return CaseAccount(self.case_id, self.bank_code, self.account_number)

    @property
    def money(self) -> AccountMoney:
        """The victim's money at the account, as the settlement arithmetic takes it."""
        return AccountMoney(self.left_minor, self.held_minor, self.in_flight_minor, self.releasing_minor)


@dataclass(frozen=True, slots=True)
class LeasedOrder:
    case_id: uuid.UUID
    order_id: uuid.UUID
    kind: OrderKind
    status: OrderStatus
    requested_minor: int
    freeze_minor: int | None


# ---- rows of the jsonb arrays trail_lock.sql and trail_apply.sql take, column for column ----------


@dataclass(frozen=True, slots=True)
class AccountToLock:
    """An account a batch touches (trail_lock.sql :accounts): its row is created if not seen before."""

    case_id: uuid.UUID
    bank_code: str
    account_number: str
    holder_name: str
    level: int


@dataclass(frozen=True, slots=True)
class OrderChange:
    """An answered order moved on (trail_apply.sql :orders)."""

    case_id: uuid.UUID
    order_id: uuid.UUID
    status: OrderStatus
    freeze_minor: int | None
    held_minor: int
    released_minor: int
    reason_code: str
    detail: str
    recheck_s: float


@dataclass(frozen=True, slots=True)
class NewOrder:
    """An order a batch opens: one following the money on, or a release (trail_apply.sql :created)."""

    case_id: uuid.UUID
    order_id: uuid.UUID
    parent_order_id: uuid.UUID | None  # None: a top-up stop, which no order opened
    kind: OrderKind
    level: int
    bank_code: str
    account_number: str
    holder_name: str
    currency: str
    requested_minor: int
    incoming: list[dict[str, Any]]
    # A stop is sized when made; its key is its freeze twin's key + "/stop" (None: case:order_id).
    freeze_minor: int | None = None
    idempotency_key: str | None = None
    # queued; awaiting_review (a freeze waiting for the case's review) or declined (its review was
    # declined) for a stop.
    status: OrderStatus = OrderStatus.QUEUED


@dataclass(frozen=True, slots=True)
class AccountChange:
    """What is now known of an account (trail_apply.sql :accounts).

    ``incoming`` and ``sent`` are the whole maps. :meth:`TrailTransaction.apply` writes only what
    changed in them since the row was locked: the keys new or changed (``incoming``, ``sent``) and
    the keys gone (``incoming_gone``, ``sent_gone``), with ``whole`` false; a hub account's maps,
    hundreds of transfers, are then not sent and written again whole with every answer about it."""

    case_id: uuid.UUID
    bank_code: str
    account_number: str
    incoming: dict[str, dict[str, Any]]
    sent: dict[str, Any]
    rev: int
    left_minor: int
    held_minor: int
    in_flight_minor: int
    releasing_minor: int
    level: int
    gaps: dict[str, int] | None
    seen_at: datetime | None
    seen_seq: int | None
    asked_releases: int
    incoming_gone: list[str] = field(default_factory=list)
    sent_gone: list[str] = field(default_factory=list)
    whole: bool = True  # incoming and sent are the whole maps, to write as they are


def account_change(row: AccountRow, gaps: dict[str, int] | None = None) -> AccountChange:
    """What is now known of ``row``'s account, to write (``gaps``: the statement's data gaps, if one
    was applied)."""
    return AccountChange(
        case_id=row.case_id,
        bank_code=row.bank_code,
        account_number=row.account_number,
        incoming=row.incoming,
        sent=row.sent,
        rev=row.rev,
        left_minor=row.left_minor,
        held_minor=row.held_minor,
        in_flight_minor=row.in_flight_minor,
        releasing_minor=row.releasing_minor,
        level=row.level,
        gaps=gaps,
        seen_at=row.seen_at,
        seen_seq=row.seen_seq,
        asked_releases=row.asked_releases,
    )


@dataclass(frozen=True, slots=True)
class ExitChange:
    """An exit recorded or corrected; with amount_minor 0, withdrawn (trail_apply.sql :exits)."""

    case_id: uuid.UUID
    txn_id: str
    order_id: uuid.UUID
    bank_code: str
    account_number: str
    level: int
    exit_kind: str
    amount_minor: int
    exited_at: datetime


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """A bank answer kept as evidence, statements included (trail_apply.sql :answers)."""

    case_id: uuid.UUID
    order_id: uuid.UUID
    status_code: str
    held_minor: int
    balance_minor: int | None
    reason_code: str
    bank_reference: str
    statement: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class EventRecord:
    """An event of a case's chain (trail_apply.sql :events)."""

    case_id: uuid.UUID
    kind: str
    order_id: uuid.UUID | None  # None: an event of the case, not of one order
    detail: dict[str, Any]


class HoldOp(enum.StrEnum):
    STOP = "stop"  # start the case's hold on the account: an emergency stop
    RETURNED = "returned"  # end a returning hold that has paid out all it held


@dataclass(frozen=True, slots=True)
class HoldOpRow:
    """A hold to start or to end as returned (trail_apply.sql :holds)."""

    case_id: uuid.UUID
    bank_code: str
    account_number: str
    op: HoldOp


@dataclass(frozen=True, slots=True)
class HeldElsewhere:
    """Other cases holding money at an account a case's order was just answered at (a row of
    ``sql/held_elsewhere.sql``)."""

    case_id: uuid.UUID
    bank_code: str
    account_number: str
    others: tuple[tuple[uuid.UUID, int], ...]  # (case_id, held_minor), oldest case first
    recorded: frozenset[uuid.UUID]  # the other cases the case recorded there last


@dataclass(frozen=True, slots=True)
class ReviewRequest:
    """A case's review of large freezes, asked for (trail_apply.sql :reviews): its reach then and
    the thresholds it passed."""

    case_id: uuid.UUID
    accounts: int
    amount_minor: int
    max_accounts: int
    max_amount_minor: int


@dataclass(slots=True)
class TrailChanges:
    """Everything one batch of statements changes."""

    orders: list[OrderChange] = field(default_factory=list)
    created: list[NewOrder] = field(default_factory=list)
    accounts: list[AccountChange] = field(default_factory=list)
    # Exits to record or correct; one with amount_minor 0 is withdrawn (its row deleted).
    exits: list[ExitChange] = field(default_factory=list)
    answers: list[AnswerRecord] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)
    holds: list[HoldOpRow] = field(default_factory=list)
    reviews: list[ReviewRequest] = field(default_factory=list)


class TrailTransaction:
    def __init__(self, conn: asyncpg.Connection, owner: str | None, actor: str, policy: HoldPolicy) -> None:
        self._conn = conn
        self._owner = owner
        self._actor = actor
        self._policy = policy
        # The incoming and sent maps of each row as locked, to write only what changed in them.
        self._locked: dict[CaseAccount, tuple[dict[str, Any], dict[str, Any]]] = {}
        # Each locked case's review of large freezes and its reach, as :meth:`lock` read them.
        self.reach: dict[uuid.UUID, Reach] = {}

    @property
    def conn(self) -> asyncpg.Connection:
        return self._conn

    async def lock(
        self,
        accounts: Sequence[AccountToLock],
        claims: Sequence[Claim],
        more_cases: Sequence[uuid.UUID] = (),
    ) -> tuple[dict[CaseAccount, AccountRow], dict[uuid.UUID, LeasedOrder]]:
        """Locks the accounts (creating rows not seen before), the orders this owner still
        leases with a bank request out and the audit chain heads of the batch's cases (and of
        ``more_cases``, which the batch writes events of too); returns the account rows and those
        orders.

        Locks are taken in this order, each kind in key order, as everywhere else (an order's
        reschedule locks orders, then heads), so concurrent writers never deadlock."""
        cases = sorted({a.case_id for a in accounts} | {c.case_id for c in claims} | set(more_cases))
        keys = [CaseAccount(a.case_id, a.bank_code, a.account_number) for a in accounts]
        conn = self._conn
        lock, rows_q, orders_q = query("trail_lock"), query("trail_rows"), query("trail_orders")
        with database_errors("could not lock the trail"):
            await conn.execute(lock.text, *lock.args(accounts=json_rows(accounts)))
            rows = await conn.fetch(rows_q.text, *rows_q.args(accounts=json_rows(keys)))
            leased = await conn.fetch(orders_q.text, *orders_q.args(claims=json_rows(claims), owner=self._owner))
            # The events apply() writes are of these cases: their chains' heads, in case_id order.
            q = query("chain_lock")
            await conn.execute(q.text, *q.args(case_ids=cases))
            count = query("case_order_counts")
            counted = await conn.fetch(count.text, *count.args(cases=cases))
        counts = {r["case_id"]: r["orders"] for r in counted}
        self.reach = {r["case_id"]: _reach(r) for r in counted}
        found = {}
        for r in rows:
            values = dict(r)
            state = values.pop("hold_state")
            row = AccountRow(
                **values,
                hold_state=None if state is None else HoldState(state),
                case_orders=counts.get(r["case_id"], 0),
            )
            found[row.key] = row
            self._locked[row.key] = (dict(row.incoming), dict(row.sent))
        orders = {
            r["order_id"]: LeasedOrder(**dict(r) | {"kind": OrderKind(r["kind"]), "status": OrderStatus(r["status"])})
            for r in leased
        }
        return found, orders

    def _changed(self, change: AccountChange) -> AccountChange:
        """``change`` with only what changed in its incoming and sent maps since the row was locked
        (as it is when this transaction did not lock the row)."""
        locked = self._locked.get(CaseAccount(change.case_id, change.bank_code, change.account_number))
        if locked is None or not change.whole or not (locked[0] or locked[1]):
            return change  # not locked here, or both maps were empty: the whole maps are what changed
        incoming, incoming_gone = _delta(locked[0], change.incoming)
        sent, sent_gone = _delta(locked[1], change.sent)
        return replace(
            change, incoming=incoming, incoming_gone=incoming_gone, sent=sent, sent_gone=sent_gone, whole=False
        )

    async def held_elsewhere(self, accounts: Sequence[CaseAccount]) -> list[HeldElsewhere]:
        """For each case's account: the other cases holding money there now, and the other cases
        the case recorded there last. A read: it takes no lock."""
        if not accounts:
            return []
        q = query("held_elsewhere")
        with database_errors("could not read the holds at the accounts"):
            rows = await self._conn.fetch(q.text, *q.args(accounts=json_rows(accounts)))
        return [
            HeldElsewhere(
                r["case_id"],
                r["bank_code"],
                r["account_number"],
                tuple((uuid.UUID(o["case_id"]), int(o["held_minor"])) for o in r["others"]),
                frozenset(uuid.UUID(o["case_id"]) for o in (r["recorded"] or ())),
            )
            for r in rows
        ]

    async def apply(self, changes: TrailChanges) -> None:
        q = query("trail_apply")
        args = q.args(
            orders=json_rows(changes.orders),
            created=json_rows(changes.created),
            accounts=json_rows(self._changed(a) for a in changes.accounts),
            exits=json_rows(changes.exits),
            answers=json_rows(changes.answers),
            events=json_rows(changes.events),
            actor=self._actor,
            holds=json_rows(changes.holds),
            reviews=json_rows(changes.reviews),
            stop_hours=self._policy.stop_hours,
            max_stops=self._policy.max_stops,
        )
        with database_errors("could not apply the trail"):
            await self._conn.execute(q.text, *args)


async def rows_at(pool: asyncpg.Pool, accounts: Sequence[AccountKey]) -> list[AccountToLock]:
    """Every case's knowledge row at ``accounts``, to lock (trail_lock.sql takes them in key order)."""
    q = query("trail_rows_at")
    with database_errors("could not read the trail"):
        rows = await pool.fetch(q.text, *q.args(accounts=json_rows(accounts)))
    return [AccountToLock(**dict(r)) for r in rows]


def _reach(r: asyncpg.Record) -> Reach:
    state = None if r["review_state"] is None else ReviewState(r["review_state"])
    accounts = {AccountKey(bank, number) for bank, number in r["frozen_accounts"] or ()}
    return Reach(state, accounts, r["frozen_minor"] or 0)


def _delta(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The keys of ``after`` new or changed since ``before``, and the keys of ``before`` gone."""
    return {k: v for k, v in after.items() if k not in before or before[k] != v}, [k for k in before if k not in after]


@contextlib.asynccontextmanager
async def trail_transaction(
    pool: asyncpg.Pool, owner: str | None, actor: str, policy: HoldPolicy
) -> AsyncIterator[TrailTransaction]:
    with database_errors("could not open a trail transaction"):
        async with pool.acquire() as conn, conn.transaction():
            yield TrailTransaction(conn, owner, actor, policy)

"""What stopay knows of each account in a case, read and written under a row lock.

The dispatcher applies bank answers inside :func:`trail_transaction`: it locks the accounts and the
orders concerned, reads what is known, works out what follows in pure code, and writes the result
with :meth:`TrailTransaction.apply`, all in one transaction.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from stopay.domain.holds import HoldPolicy
from stopay.store.errors import database_errors
from stopay.store.queries import sql

AccountKey = tuple[uuid.UUID, str, str]  # case_id, bank_code, account_number


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
    hold_state: str | None = None
    # The most a formal freeze's legal document lets the case hold there (None: no such limit).
    hold_cap: int | None = None
    # Exits recorded at the account: txn_id -> the victim's money that left there.
    exited: dict[str, int] = field(default_factory=dict)
    # The accounts the case's victim paid from, [bank_code, number] each.
    victim_accounts: list[list[str]] = field(default_factory=list)
    # The freeze orders the case has opened so far, in all (read under the case's chain lock).
    case_orders: int = 0

    @property
    def key(self) -> AccountKey:
        return (self.case_id, self.bank_code, self.account_number)


@dataclass(frozen=True, slots=True)
class LeasedOrder:
    case_id: uuid.UUID
    order_id: uuid.UUID
    kind: str
    status: str
    requested_minor: int
    freeze_minor: int | None


@dataclass(slots=True)
class TrailChanges:
    """Everything one batch of statements changes; each list is a batch of JSON-ready rows."""

    orders: list[dict[str, Any]] = field(default_factory=list)
    created: list[dict[str, Any]] = field(default_factory=list)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    # Exits to record or correct; one with amount_minor 0 is withdrawn (its row deleted).
    exits: list[dict[str, Any]] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    # Holds to start ({..., "op": "stop"}) or to end as returned ({..., "op": "returned"}).
    holds: list[dict[str, Any]] = field(default_factory=list)


class TrailTransaction:
    def __init__(self, conn: asyncpg.Connection, owner: str | None, actor: str, policy: HoldPolicy) -> None:
        self._conn = conn
        self._owner = owner
        self._actor = actor
        self._policy = policy

    async def lock(
        self,
        accounts: Sequence[dict[str, Any]],
        orders: Sequence[tuple[uuid.UUID, uuid.UUID, int]],
        more_cases: Sequence[uuid.UUID] = (),
    ) -> tuple[dict[AccountKey, AccountRow], dict[uuid.UUID, LeasedOrder]]:
        """Locks the accounts (creating rows not seen before), the orders this owner still
        leases with a bank request out and the audit chain heads of the batch's cases (and of
        ``more_cases``, which the batch writes events of too); returns the account rows and those
        orders.

        Locks are taken in this order, each kind in key order, as everywhere else (an order's
        reschedule locks orders, then heads), so concurrent writers never deadlock."""
        cases = sorted(
            {uuid.UUID(str(a["case_id"])) for a in accounts}
            | {uuid.UUID(str(c)) for c, _, _ in orders}
            | set(more_cases)
        )
        with database_errors("could not lock the trail"):
            await self._conn.execute(sql("trail_lock"), list(accounts))
            keys = [{k: str(a[k]) for k in ("case_id", "bank_code", "account_number")} for a in accounts]
            rows = await self._conn.fetch(sql("trail_rows"), keys)
            leased = await self._conn.fetch(
                sql("trail_orders"),
                [{"case_id": str(c), "order_id": str(o), "attempts": n} for c, o, n in orders],
                self._owner,
            )
            # The events apply() writes are of these cases: their chains' heads, in case_id order.
            await self._conn.execute(sql("chain_lock"), cases)
            counts = {r["case_id"]: r["orders"] for r in await self._conn.fetch(sql("case_order_counts"), cases)}
        found = {}
        for r in rows:
            row = AccountRow(**dict(r), case_orders=counts.get(r["case_id"], 0))
            found[row.key] = row
        return found, {r["order_id"]: LeasedOrder(**dict(r)) for r in leased}

    async def apply(self, changes: TrailChanges) -> None:
        with database_errors("could not apply the trail"):
            await self._conn.execute(
                sql("trail_apply"),
                changes.orders,
                changes.created,
                changes.accounts,
                changes.exits,
                changes.answers,
                changes.events,
                self._actor,
                changes.holds,
                self._policy.stop_hours,
                self._policy.max_stops,
            )


@contextlib.asynccontextmanager
async def trail_transaction(
    pool: asyncpg.Pool, owner: str | None, actor: str, policy: HoldPolicy
) -> AsyncIterator[TrailTransaction]:
    with database_errors("could not open a trail transaction"):
        async with pool.acquire() as conn, conn.transaction():
            yield TrailTransaction(conn, owner, actor, policy)

"""What a case looks like when read back: its totals, its trail of orders and exits, its events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stopay.domain.entry import Party
from stopay.domain.holds import HoldView
from stopay.domain.orders import OrderKind, OrderStatus, holds_money
from stopay.domain.review import ReviewState


@dataclass(frozen=True, slots=True)
class IncomingView:
    txn_id: str
    amount_minor: int
    traced_minor: int
    at: datetime
    payer: Party


@dataclass(frozen=True, slots=True)
class OrderView:
    order_id: uuid.UUID
    parent_order_id: uuid.UUID | None
    kind: OrderKind
    level: int
    bank_code: str
    account_number: str
    holder_name: str
    currency: str
    requested_minor: int
    asked_minor: int
    held_minor: int
    released_minor: int
    status: OrderStatus
    reason_code: str
    detail: str
    incoming: tuple[IncomingView, ...]
    attempts: int
    created_at: datetime
    resolved_at: datetime | None
    retry_of: uuid.UUID | None = None

    @property
    def incoming_txn_ids(self) -> tuple[str, ...]:
        return tuple(i.txn_id for i in self.incoming)


@dataclass(frozen=True, slots=True)
class ExitView:
    txn_id: str
    order_id: uuid.UUID
    bank_code: str
    account_number: str
    level: int
    kind: str
    amount_minor: int
    exited_at: datetime


@dataclass(frozen=True, slots=True)
class CaseLink:
    """Another case that reported one of this case's transfers (same payer, payee and txn_id)."""

    case_id: uuid.UUID  # the other case
    txn_id: str
    payer: Party
    payee: Party
    # The transfer's amount as the later report gave it.
    amount_minor: int
    station_id: str  # the other case's
    created_at: datetime  # the other case's
    # True: the other case reported the transfer first and traces it; this case only records it.
    # False: this case traces it, and the other case reported it again.
    traced_there: bool


@dataclass(frozen=True, slots=True)
class SharedAccount:
    """An account on the case's trail where other cases hold money now."""

    bank_code: str
    account_number: str
    holder_name: str
    other_case_ids: tuple[uuid.UUID, ...]  # oldest case first
    held_by_others_minor: int  # what they hold there together


@dataclass(frozen=True, slots=True)
class LevelTotals:
    level: int
    traced_minor: int
    held_minor: int
    exited_minor: int
    orders: int
    open_orders: int
    # Paid to victims from the case's holds at this level.
    returned_minor: int = 0
    # Paid from accounts at this level back to an account the victim paid from.
    back_with_victim_minor: int = 0


@dataclass(frozen=True, slots=True)
class CaseView:
    case_id: uuid.UUID
    entry_id: str
    station_id: str
    officer_id: str
    report_no: str
    victim_name: str
    fraud_type: int
    currency: str
    reported_minor: int
    held_minor: int
    exited_minor: int
    order_count: int
    open_orders: int
    created_at: datetime
    rule: str
    max_depth: int
    min_amount: int
    orders: tuple[OrderView, ...] = field(default=())
    exits: tuple[ExitView, ...] = field(default=())
    # Paid back to this case's victim, from this case's holds or (rateably) another's.
    returned_minor: int = 0
    holds: tuple[HoldView, ...] = field(default=())
    # Reported by this case, traced by another that reported the same transfers first: the money is
    # followed (and counted as held, exited or unresolved) once, there.
    linked_minor: int = 0
    links: tuple[CaseLink, ...] = field(default=())
    # Accounts on the trail where other cases hold money now.
    shared: tuple[SharedAccount, ...] = field(default=())
    # Paid by the trail back to an account the victim paid from (a fake "profit withdrawal"): the
    # victim's again, never frozen or followed there; ``back`` are those payments.
    back_with_victim_minor: int = 0
    back: tuple[ExitView, ...] = field(default=())
    # The case's review of large freezes (stopay.domain.review; None: none was asked for), and the
    # freezes waiting for it with their money.
    review: ReviewState | None = None
    awaiting_review_orders: int = 0
    awaiting_review_minor: int = 0

    @property
    def settled(self) -> bool:
        """No order is waiting for, or in flight to, a bank, nor waiting for a review."""
        return self.open_orders == 0

    @property
    def unresolved_minor(self) -> int:
        """Reported money neither held, returned, back with the victim, traced out of the network nor
        traced by a linked case."""
        return max(
            0,
            self.reported_minor
            - self.held_minor
            - self.exited_minor
            - self.returned_minor
            - self.back_with_victim_minor
            - self.linked_minor,
        )

    def hold_timings(self) -> list[tuple[OrderView, int]]:
        """Each freeze that held money, with the milliseconds from the entry to its hold (the
        figure of "秒止付")."""
        return [
            (o, int((o.resolved_at - self.created_at).total_seconds() * 1000))
            for o in self.orders
            if holds_money(o.kind) and o.held_minor > 0 and o.resolved_at is not None
        ]

    def levels(self) -> list[LevelTotals]:
        """Totals per level of the trail; level 1 traces what the victim reported, less what a
        linked case traces."""
        depth = max([o.level for o in self.orders] + [x.level for x in self.exits + self.back], default=0)
        totals = []
        for level in range(1, depth + 1):
            orders = [o for o in self.orders if o.level == level]
            # An operator's retry follows the same money again: count it once.
            freezes = [o for o in orders if o.kind is OrderKind.FREEZE and o.retry_of is None]
            totals.append(
                LevelTotals(
                    level=level,
                    traced_minor=self.reported_minor - self.linked_minor
                    if level == 1
                    else sum(o.requested_minor for o in freezes),
                    held_minor=sum(o.held_minor - o.released_minor for o in orders),
                    exited_minor=sum(x.amount_minor for x in self.exits if x.level == level),
                    orders=len(orders),
                    open_orders=sum(1 for o in orders if not o.status.terminal),
                    returned_minor=sum(o.released_minor for o in orders if o.kind is OrderKind.RETURN),
                    back_with_victim_minor=sum(x.amount_minor for x in self.back if x.level == level),
                )
            )
        return totals


@dataclass(frozen=True, slots=True)
class CaseEvent:
    seq: int
    at: datetime
    actor: str
    kind: str
    order_id: uuid.UUID | None
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CaseSearch:
    """Which cases a list holds (docs/rules.md, Search): every field None is no filter, the others
    must all hold."""

    station_id: str | None = None
    report_no: str | None = None
    # The victim's name starts with it, character for character.
    victim_name: str | None = None
    # (bank_code, account_number): the case has an order, of any kind and level, at that account.
    account: tuple[str, str] | None = None
    # The period [created_from, created_until) the case was accepted in.
    created_from: datetime | None = None
    created_until: datetime | None = None
    # True: no order is open (CaseView.settled); False: some order is.
    settled: bool | None = None

    @property
    def filtered(self) -> bool:
        """Whether any filter is given."""
        return self != CaseSearch()

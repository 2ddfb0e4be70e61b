"""What a case looks like when read back: its totals, its freeze orders and its events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stopay.domain.orders import OrderStatus


@dataclass(frozen=True, slots=True)
class OrderView:
    order_id: uuid.UUID
    parent_order_id: uuid.UUID | None
    level: int
    bank_code: str
    account_number: str
    holder_name: str
    currency: str
    requested_minor: int
    held_minor: int
    status: OrderStatus
    reason_code: str
    detail: str
    incoming_txn_ids: tuple[str, ...]
    attempts: int
    created_at: datetime
    resolved_at: datetime | None


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
    orders: tuple[OrderView, ...] = field(default=())

    @property
    def settled(self) -> bool:
        """No order is waiting for, or in flight to, a bank."""
        return self.open_orders == 0


@dataclass(frozen=True, slots=True)
class CaseEvent:
    seq: int
    at: datetime
    actor: str
    kind: str
    order_id: uuid.UUID | None
    detail: dict[str, Any]

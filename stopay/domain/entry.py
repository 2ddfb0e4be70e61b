"""A station's entry: the victim's transfers, and the level-1 freeze orders they call for."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime

from stopay.domain.accounts import AccountKey
from stopay.domain.orders import stop_of

# Fixed namespace: a case id is derived from the client's entry_id, so a retried submission finds
# its case by primary key, on one database or on many shards.
CASE_NAMESPACE = uuid.UUID("5e6f0c5a-7d1b-4c55-9a51-0b7c1f3f2d10")


@dataclass(frozen=True, slots=True)
class Party:
    bank_code: str
    number: str
    holder_name: str

    @property
    def key(self) -> AccountKey:
        return AccountKey(self.bank_code, self.number)


@dataclass(frozen=True, slots=True)
class Transfer:
    payer: Party
    payee: Party
    amount_minor: int
    currency: str
    transferred_at: datetime
    txn_id: str
    channel: str = ""


@dataclass(frozen=True, slots=True)
class Victim:
    name: str
    id_number: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class Entry:
    entry_id: str
    station_id: str
    officer_id: str
    report_no: str
    victim: Victim
    transfers: tuple[Transfer, ...]
    fraud_type: int = 0
    narrative: str = ""

    @property
    def case_id(self) -> uuid.UUID:
        return uuid.uuid5(CASE_NAMESPACE, self.entry_id)

    @property
    def currency(self) -> str:
        return self.transfers[0].currency

    @property
    def reported_minor(self) -> int:
        return sum(t.amount_minor for t in self.transfers)

    def fingerprint(self) -> bytes:
        """SHA-256 of a canonical encoding of everything submitted; equal payloads, equal digests."""
        data = asdict(self)
        for transfer in data["transfers"]:
            transfer["transferred_at"] = transfer["transferred_at"].isoformat()
        canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).digest()


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    """A freeze order to create: one per receiving account, for everything the victim sent there."""

    order_id: uuid.UUID
    level: int
    account: Party
    requested_minor: int
    incoming: tuple[Transfer, ...]
    # Its stop (stop first: docs/tracing.md), which freezes the requested amount at once.
    stop_order_id: uuid.UUID


def level1_orders(entry: Entry) -> list[PlannedOrder]:
    """One level-1 order per payee account, requesting the sum of the victim's transfers to it."""
    by_account: dict[AccountKey, list[Transfer]] = {}
    for transfer in entry.transfers:
        by_account.setdefault(transfer.payee.key, []).append(transfer)
    case_id = entry.case_id
    return [
        PlannedOrder(
            order_id=(order_id := uuid.uuid5(case_id, f"L1:{key}")),
            level=1,
            account=transfers[0].payee,
            requested_minor=sum(t.amount_minor for t in transfers),
            incoming=tuple(transfers),
            stop_order_id=stop_of(case_id, order_id),
        )
        for key, transfers in sorted(by_account.items())
    ]

"""A station's entry: the victim's transfers, and the level-1 freeze orders they call for."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from stopay.domain.accounts import AccountKey
from stopay.domain.confirmation import Confirmation
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
    # How the victim confirmed the transfers (stopay.domain.confirmation); every entry a station
    # submits has one, and only an entry made in code may lack it.
    confirmation: Confirmation | None = None

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
        """SHA-256 of a canonical encoding of everything submitted; equal payloads, equal digests.

        The encoding is the JSON of ``dataclasses.asdict(self)`` with each ``transferred_at`` in ISO
        form, keys sorted, and it must never change: a stored case keeps its entry's digest, and a
        retry is told from a conflict by it. The confirmation is encoded as the case's first event
        records it (:meth:`Confirmation.record`); an entry without one leaves the key out, so an
        entry has the digest it had before entries were confirmed (the store takes that digest for
        a case stored then, see :meth:`unconfirmed_fingerprint`). The dict is built field by field,
        because asdict deep-copies every value (most of this method's time);
        tests/unit/test_entry.py holds it to asdict's.
        """
        data = {
            "entry_id": self.entry_id,
            "station_id": self.station_id,
            "officer_id": self.officer_id,
            "report_no": self.report_no,
            "victim": {"name": self.victim.name, "id_number": self.victim.id_number, "phone": self.victim.phone},
            "transfers": [
                {
                    "payer": _party_data(t.payer),
                    "payee": _party_data(t.payee),
                    "amount_minor": t.amount_minor,
                    "currency": t.currency,
                    "transferred_at": t.transferred_at.isoformat(),
                    "txn_id": t.txn_id,
                    "channel": t.channel,
                }
                for t in self.transfers
            ],
            "fraud_type": self.fraud_type,
            "narrative": self.narrative,
        }
        if self.confirmation is not None:
            data["confirmation"] = self.confirmation.record()
        canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).digest()

    def unconfirmed_fingerprint(self) -> bytes:
        """:meth:`fingerprint` as if the entry had no confirmation: the digest a case accepted
        before entries carried one keeps. The same entry sent again with a confirmation is a
        duplicate of such a case, not a conflict."""
        return dataclasses.replace(self, confirmation=None).fingerprint()


def _party_data(party: Party) -> dict[str, str]:
    return {"bank_code": party.bank_code, "number": party.number, "holder_name": party.holder_name}


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

"""stopay.api.validation.entry_from_request: a good request becomes an Entry; every bad field is named."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from stopay.api.validation import InvalidRequest, confirm_request, entry_from_request
from stopay.domain.confirmation import ConfirmationMethod
from stopay.domain.entry import Party
from stopay.domain.money import MAX_TRANSFER_MINOR, MAX_TRANSFERS_PER_ENTRY
from stopay.v1 import common_pb2, station_pb2

NOW = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
Request = station_pb2.SubmitEntryRequest


def add_transfer(
    req: Request,
    txn: str,
    amount: int = 300000,
    *,
    payee: str = "6217000010001234567",
    holder: str = "Wang Fang",
    currency: str = "",
    at: datetime = NOW - timedelta(minutes=20),
) -> None:
    t = req.transfers.add(
        payer=common_pb2.AccountRef(bank_code="ICBC", number="6222020200001111111", holder_name="Li Wei"),
        payee=common_pb2.AccountRef(bank_code="CCB", number=payee, holder_name=holder),
        amount_minor=amount,
        currency=currency,
        txn_id=txn,
        channel="mobile",
    )
    t.transferred_at.FromDatetime(at)


def valid_request(transfers: int = 1) -> Request:
    req = Request(
        entry_id="3f1c2a8e-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
        station_id="CQ-YUZHONG-01",
        officer_id="officer-7",
        report_no="R2024-0001",
        victim=station_pb2.Victim(name="Li Wei", id_number="11010519491231002X"),
        fraud_type=station_pb2.FRAUD_TYPE_IMPERSONATION,
        narrative="caller posed as the director",
    )
    for i in range(transfers):
        add_transfer(req, f"T{i}")
    return reconfirmed(req)


def reconfirmed(req: Request) -> Request:
    """``req`` confirmed by the victim on the second screen a minute before NOW, as it is now: the
    tests of other fields change it after valid_request. Its old digest stays when a transfer's time
    cannot be read (and so the digest is not compared)."""
    before = req.confirmation.shown_sha256
    confirm_request(req, ConfirmationMethod.DUAL_SCREEN, confirmed_at=NOW - timedelta(minutes=1))
    if not req.confirmation.shown_sha256:
        req.confirmation.shown_sha256 = before
    return req


def violated_fields(req: Request, *, reconfirm: bool = True) -> list[str]:
    """The fields refused, in order; with ``reconfirm``, of ``req`` confirmed again as it is now."""
    with pytest.raises(InvalidRequest) as info:
        entry_from_request(reconfirmed(req) if reconfirm else req, NOW)
    return [v.field for v in info.value.violations]


def test_valid_request_converts() -> None:
    req = valid_request()
    add_transfer(
        req,
        "T9",
        80000,
        payee="6228480010009876543",
        holder="Zhao Lei",
        currency="CNY",
        at=NOW - timedelta(minutes=5, microseconds=250),
    )
    entry = entry_from_request(reconfirmed(req), NOW)
    assert entry.entry_id == req.entry_id and entry.station_id == "CQ-YUZHONG-01"
    assert entry.victim.name == "Li Wei" and entry.victim.id_number == "11010519491231002X"
    assert entry.fraud_type == station_pb2.FRAUD_TYPE_IMPERSONATION
    first, second = entry.transfers
    assert [t.amount_minor for t in entry.transfers] == [300000, 80000]
    assert entry.reported_minor == 380000
    assert first.currency == "CNY" and second.currency == "CNY"  # empty currency becomes CNY
    assert first.transferred_at == NOW - timedelta(minutes=20)
    assert second.transferred_at == NOW - timedelta(minutes=5, microseconds=250)
    assert first.transferred_at.tzinfo is not None and first.transferred_at.utcoffset() == timedelta(0)
    assert first.payee == Party("CCB", "6217000010001234567", "Wang Fang")
    assert first.payer == Party("ICBC", "6222020200001111111", "Li Wei")
    assert (first.txn_id, first.channel) == ("T0", "mobile")


def test_transfer_up_to_ten_minutes_ahead_is_accepted() -> None:
    req = Request()
    req.CopyFrom(valid_request(0))
    add_transfer(req, "T0", at=NOW + timedelta(minutes=10))
    assert entry_from_request(reconfirmed(req), NOW).transfers[0].transferred_at == NOW + timedelta(minutes=10)


def _set(path: str, value: object) -> Callable[[Request], None]:
    def change(req: Request) -> None:
        *parents, name = path.split(".")
        target: object = req
        for p in parents:
            target = req.transfers[0] if p == "transfers[0]" else getattr(target, p)
        setattr(target, name, value)

    return change


def _second_transfer(**kw: object) -> Callable[[Request], None]:
    return lambda req: add_transfer(req, **({"txn": "T1"} | kw))  # type: ignore[arg-type]


def _too_many(req: Request) -> None:
    for i in range(1, MAX_TRANSFERS_PER_ENTRY + 1):
        add_transfer(req, f"T{i}", 100)


CASES: dict[str, tuple[Callable[[Request], None], str]] = {
    "bank code lowercase": (_set("transfers[0].payee.bank_code", "ccb"), "transfers[0].payee.bank_code"),
    "bank code too long": (_set("transfers[0].payee.bank_code", "CCB123456789"), "transfers[0].payee.bank_code"),
    "bank code digit first": (_set("transfers[0].payee.bank_code", "9CCB"), "transfers[0].payee.bank_code"),
    "payer bank code": (_set("transfers[0].payer.bank_code", ""), "transfers[0].payer.bank_code"),
    "number too short": (_set("transfers[0].payee.number", "12345"), "transfers[0].payee.number"),
    "number bad chars": (_set("transfers[0].payee.number", "6217-0000-1000"), "transfers[0].payee.number"),
    "number too long": (_set("transfers[0].payee.number", "6" * 35), "transfers[0].payee.number"),
    "amount zero": (_set("transfers[0].amount_minor", 0), "transfers[0].amount_minor"),
    "amount negative": (_set("transfers[0].amount_minor", -100), "transfers[0].amount_minor"),
    "amount too large": (_set("transfers[0].amount_minor", MAX_TRANSFER_MINOR + 1), "transfers[0].amount_minor"),
    "no transfers": (lambda req: req.ClearField("transfers"), "transfers"),
    "too many transfers": (_too_many, "transfers"),
    "no entry_id": (_set("entry_id", ""), "entry_id"),
    "short entry_id": (_set("entry_id", "abc1234"), "entry_id"),
    "entry_id bad chars": (_set("entry_id", "entry id with spaces"), "entry_id"),
    "no station_id": (_set("station_id", "   "), "station_id"),
    "no victim name": (lambda req: req.victim.ClearField("name"), "victim.name"),
    "no transferred_at": (lambda req: req.transfers[0].ClearField("transferred_at"), "transfers[0].transferred_at"),
    "transferred_at in future": (
        lambda req: req.transfers[0].transferred_at.FromDatetime(NOW + timedelta(minutes=11)),
        "transfers[0].transferred_at",
    ),
    "duplicate txn_id": (
        _second_transfer(txn="T0", payee="6228480010009876543", holder="Zhao Lei"),
        "transfers[1].txn_id",
    ),
    "payer is payee": (lambda req: req.transfers[0].payee.CopyFrom(req.transfers[0].payer), "transfers[0].payee"),
    "mixed currencies": (_second_transfer(currency="USD"), "transfers"),
    "bad currency": (_set("transfers[0].currency", "cny"), "transfers[0].currency"),
    "one payee two holders": (_second_transfer(holder="Wang Fan"), "transfers[1].payee.holder_name"),
    "unknown fraud_type": (_set("fraud_type", 42), "fraud_type"),
    # Hostile input: a Timestamp outside 0001..9999 must be a violation, not an unexpected ValueError.
    "transferred_at out of range": (
        lambda req: setattr(req.transfers[0].transferred_at, "seconds", 10**12),
        "transfers[0].transferred_at",
    ),
}


@pytest.mark.parametrize("change, field", CASES.values(), ids=CASES.keys())
def test_one_bad_field(change: Callable[[Request], None], field: str) -> None:
    req = valid_request()
    change(req)
    assert violated_fields(req) == [field]


def test_explicit_cny_and_empty_currency_do_not_mix() -> None:
    req = valid_request()
    add_transfer(req, "T1", currency="CNY")
    assert {t.currency for t in entry_from_request(reconfirmed(req), NOW).transfers} == {"CNY"}


def test_all_problems_reported_at_once() -> None:
    req = valid_request(2)
    req.entry_id = ""
    req.victim.name = ""
    req.transfers[0].payee.bank_code = "ccb"
    req.transfers[1].amount_minor = 0
    req.transfers[1].ClearField("transferred_at")
    assert sorted(violated_fields(req)) == sorted(
        [
            "entry_id",
            "victim.name",
            "transfers[0].payee.bank_code",
            "transfers[1].amount_minor",
            "transfers[1].transferred_at",
        ]
    )

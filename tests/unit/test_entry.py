"""stopay.domain.entry: case ids, fingerprints and the level-1 freeze orders of an entry."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta

from stopay.domain.accounts import AccountKey
from stopay.domain.confirmation import Confirmation, ConfirmationMethod
from stopay.domain.entry import CASE_NAMESPACE, Entry, Party, Transfer, Victim, level1_orders

T0 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
VICTIM_ACCOUNT = Party("ICBC", "6222020200001111111", "Li Wei")
MULE_1 = Party("CCB", "6217000010001234567", "Wang Fang")
MULE_2 = Party("ABC", "6228480010009876543", "Zhao Lei")


def transfer(payee: Party, amount: int, minutes: int, txn: str) -> Transfer:
    return Transfer(VICTIM_ACCOUNT, payee, amount, "CNY", T0 + timedelta(minutes=minutes), txn, "mobile")


def make_entry(**changes: object) -> Entry:
    entry = Entry(
        entry_id="3f1c2a8e-entry-0001",
        station_id="CQ-YUZHONG-01",
        officer_id="officer-7",
        report_no="R2024-0001",
        victim=Victim("Li Wei", "11010519491231002X", "13800000000"),
        transfers=(
            transfer(MULE_1, 300000, 0, "T1"),
            transfer(MULE_2, 200000, 5, "T2"),
            transfer(MULE_1, 80000, 9, "T3"),
        ),
        fraud_type=1,
        narrative="caller posed as the company director",
    )
    return dataclasses.replace(entry, **changes)  # type: ignore[arg-type]


def test_case_id_is_uuid5_of_entry_id() -> None:
    assert make_entry().case_id == uuid.uuid5(CASE_NAMESPACE, "3f1c2a8e-entry-0001")
    assert make_entry().case_id == make_entry().case_id
    assert make_entry(entry_id="another-entry-0002").case_id != make_entry().case_id


def test_reported_and_currency() -> None:
    assert make_entry().reported_minor == 580000
    assert make_entry().currency == "CNY"


def test_fingerprint_equal_for_equal_entries() -> None:
    assert make_entry().fingerprint() == make_entry().fingerprint()
    assert len(make_entry().fingerprint()) == 32


def _asdict_digest(entry: Entry) -> bytes:
    data = dataclasses.asdict(entry)
    for t in data["transfers"]:
        t["transferred_at"] = t["transferred_at"].isoformat()
    if entry.confirmation is None:
        del data["confirmation"]
    else:
        data["confirmation"] = entry.confirmation.record()
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).digest()


def test_fingerprint_is_the_digest_of_asdict_and_never_changes() -> None:
    """A stored case keeps its entry's digest: the same entry sent again after an upgrade must still
    be a duplicate, never a conflict. An entry without a confirmation has the digest entries had
    before they carried one."""
    entry = make_entry()
    assert entry.fingerprint() == _asdict_digest(entry)
    assert entry.fingerprint().hex() == "20e94e803fc00703bae9499679c25c0143e99a2cd5c4dd393a494337773c9997"


CONFIRMED = Confirmation(ConfirmationMethod.SIGNED_FORM, "F-0012", T0 + timedelta(hours=1, microseconds=5), bytes(32))


def test_a_confirmed_entry_s_fingerprint_holds_the_confirmation_as_recorded() -> None:
    entry = make_entry(confirmation=CONFIRMED)
    assert CONFIRMED.record() == {
        "method": "signed_form",
        "reference": "F-0012",
        "confirmed_at": "2024-05-01T10:30:00.000005Z",
        "shown_sha256": "00" * 32,
    }
    assert entry.fingerprint() == _asdict_digest(entry)
    assert entry.fingerprint().hex() == "984c4bd133b3ded142ff857b870871bf00735ab245f0c3d3a04bbf70ede31755"
    # What a case stored before entries were confirmed keeps: the same entry without it.
    assert entry.unconfirmed_fingerprint() == make_entry().fingerprint()


def test_fingerprint_changes_with_the_confirmation() -> None:
    base = make_entry(confirmation=CONFIRMED).fingerprint()
    variants = [
        make_entry(),
        make_entry(confirmation=dataclasses.replace(CONFIRMED, method=ConfirmationMethod.RECORDED_CALL)),
        make_entry(confirmation=dataclasses.replace(CONFIRMED, reference="F-0013")),
        make_entry(confirmation=dataclasses.replace(CONFIRMED, confirmed_at=T0)),
        make_entry(confirmation=dataclasses.replace(CONFIRMED, shown_sha256=bytes(31) + b"\x01")),
    ]
    prints = [e.fingerprint() for e in variants]
    assert base not in prints and len(set(prints)) == len(prints)


def _with_first_transfer(**changes: object) -> Entry:
    base = make_entry()
    first = dataclasses.replace(base.transfers[0], **changes)  # type: ignore[arg-type]
    return dataclasses.replace(base, transfers=(first, *base.transfers[1:]))


def test_fingerprint_changes_with_any_field() -> None:
    base = make_entry().fingerprint()
    variants = {
        "amount": _with_first_transfer(amount_minor=300001),
        "time": _with_first_transfer(transferred_at=T0 + timedelta(seconds=1)),
        "payee holder": _with_first_transfer(payee=dataclasses.replace(MULE_1, holder_name="Wang Fan")),
        "payee number": _with_first_transfer(payee=dataclasses.replace(MULE_1, number="6217000010001234568")),
        "txn id": _with_first_transfer(txn_id="T1b"),
        "narrative": make_entry(narrative="caller posed as the company director."),
        "victim": make_entry(victim=Victim("Li Wei", "11010519491231003X", "13800000000")),
        "fraud type": make_entry(fraud_type=2),
        "officer": make_entry(officer_id="officer-8"),
    }
    prints = {name: e.fingerprint() for name, e in variants.items()}
    assert all(p != base for p in prints.values()), [n for n, p in prints.items() if p == base]
    assert len(set(prints.values())) == len(prints)


def test_level1_orders_group_by_payee_account() -> None:
    entry = make_entry()
    orders = level1_orders(entry)
    by_account = {o.account.key: o for o in orders}
    assert set(by_account) == {MULE_1.key, MULE_2.key}
    one, two = by_account[MULE_1.key], by_account[MULE_2.key]
    assert one.requested_minor == 380000
    assert [t.txn_id for t in one.incoming] == ["T1", "T3"]
    assert two.requested_minor == 200000
    assert [t.txn_id for t in two.incoming] == ["T2"]
    assert all(o.level == 1 for o in orders)
    assert sum(o.requested_minor for o in orders) == entry.reported_minor


def test_level1_order_ids_deterministic_and_distinct() -> None:
    first = [o.order_id for o in level1_orders(make_entry())]
    assert first == [o.order_id for o in level1_orders(make_entry())]
    assert len(set(first)) == 2
    case_id = make_entry().case_id
    assert set(first) == {uuid.uuid5(case_id, f"L1:{MULE_1.key}"), uuid.uuid5(case_id, f"L1:{MULE_2.key}")}
    other = [o.order_id for o in level1_orders(make_entry(entry_id="another-entry-0002"))]
    assert not set(first) & set(other)


def test_same_number_at_two_banks_is_two_orders() -> None:
    twin = Party("BOC", MULE_1.number, "Wang Fang")
    entry = make_entry(transfers=(transfer(MULE_1, 100, 0, "T1"), transfer(twin, 200, 1, "T2")))
    orders = level1_orders(entry)
    assert {o.account.key for o in orders} == {AccountKey("CCB", MULE_1.number), AccountKey("BOC", MULE_1.number)}
    assert sorted(o.requested_minor for o in orders) == [100, 200]

"""The victim's confirmation: the canonical text the victim confirms (stopay.domain.confirmation),
and SubmitEntry's checks of the confirmation an entry carries (stopay.api.validation)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf import json_format

from stopay.api.validation import (
    FUTURE_SKEW,
    InvalidRequest,
    confirm_request,
    entry_from_request,
    shown_digest_of_request,
    unconfirmed_entry,
)
from stopay.domain.confirmation import (
    Confirmation,
    ConfirmationMethod,
    confirmation_text,
    confirmation_text_of,
    how_confirmed,
    shown_digest,
    shown_digest_of,
)
from stopay.domain.entry import Party, Transfer
from stopay.v1 import station_pb2
from tests.conftest import EXAMPLES
from tests.unit.test_validation import NOW, add_transfer, reconfirmed, valid_request, violated_fields

# The example entry (stopay/examples/entry-seed-xue.json, the README's): its text and digest. They
# must never change: stations compute them on their own, and the case's first event keeps the digest.
XUE_TEXT = (
    '{"report_no":"YZ2021-000123","transfers":[{"amount_minor":58000000,"currency":"CNY",'
    '"payee_bank":"ICBC","payee_holder":"王某某","payee_number":"6222020200001111111",'
    '"payer_bank":"CQRCB","payer_number":"6214830000000580","transferred_at":"2021-03-02T01:15:00Z",'
    '"txn_id":"XUE-T1"}],"victim_name":"某科技有限公司"}'
)
XUE_SHA256 = "ad79d78e9ab21d41c612a2aea4262dc24120e8402cda6fc70fb86fc4870eda06"


def xue_request() -> station_pb2.SubmitEntryRequest:
    data = json.loads((EXAMPLES / "entry-seed-xue.json").read_text(encoding="utf-8"))
    return json_format.ParseDict(data, station_pb2.SubmitEntryRequest())


def test_the_seed_xue_entry_s_text_and_digest() -> None:
    request = xue_request()
    entry = unconfirmed_entry(request, NOW)
    assert confirmation_text_of(entry) == XUE_TEXT
    assert shown_digest_of(entry).hex() == XUE_SHA256 == hashlib.sha256(XUE_TEXT.encode()).hexdigest()
    assert shown_digest_of_request(request) == bytes.fromhex(XUE_SHA256)
    # The file carries its victim's confirmation of exactly that text, and is accepted as it is.
    assert request.confirmation.shown_sha256.hex() == XUE_SHA256
    confirmed = entry_from_request(request, datetime(2021, 3, 2, 4, tzinfo=UTC))
    assert confirmed.confirmation == Confirmation(
        ConfirmationMethod.SIGNED_FORM,
        "YZ2021-000123-F1",
        datetime(2021, 3, 2, 3, 40, tzinfo=UTC),
        bytes.fromhex(XUE_SHA256),
    )


PAYER = Party("CQCB", "6229100000000001", "陈某")


def _transfer(payee: str, amount: int, at: datetime, txn: str, holder: str = "某公司") -> Transfer:
    return Transfer(PAYER, Party("ICBC", payee, holder), amount, "CNY", at, txn, "mobile")


def test_the_text_keeps_the_entry_s_order_utc_seconds_and_leaves_out_what_is_not_shown() -> None:
    cst = timezone(timedelta(hours=8))
    second = _transfer("6222000000000002", 5, datetime(2026, 1, 2, 8, 0, 59, 999_999, tzinfo=cst), "B")
    first = _transfer("6222000000000001", 1_000_000, datetime(2026, 1, 2, 0, 0, tzinfo=UTC), "A")
    text = confirmation_text("R-1", "陈某", [second, first])
    assert text == (
        '{"report_no":"R-1","transfers":['
        '{"amount_minor":5,"currency":"CNY","payee_bank":"ICBC","payee_holder":"某公司",'
        '"payee_number":"6222000000000002","payer_bank":"CQCB","payer_number":"6229100000000001",'
        '"transferred_at":"2026-01-02T00:00:59Z","txn_id":"B"},'
        '{"amount_minor":1000000,"currency":"CNY","payee_bank":"ICBC","payee_holder":"某公司",'
        '"payee_number":"6222000000000001","payer_bank":"CQCB","payer_number":"6229100000000001",'
        '"transferred_at":"2026-01-02T00:00:00Z","txn_id":"A"}],"victim_name":"陈某"}'
    )
    assert shown_digest("R-1", "陈某", [second, first]) == hashlib.sha256(text.encode()).digest()
    assert shown_digest("R-1", "陈某", [first, second]) != shown_digest("R-1", "陈某", [second, first])
    # The payer's holder name and the channel are not shown: changing them changes nothing.
    payer = Party("CQCB", "6229100000000001", "x")
    other = Transfer(payer, first.payee, 1_000_000, "CNY", first.transferred_at, "A", "")
    assert confirmation_text("R-1", "陈某", [second, other]) == text


def test_the_digest_is_of_the_request_as_stopay_reads_it() -> None:
    request = valid_request()
    request.report_no = "  R2024-0001 "
    request.transfers[0].payee.holder_name = "Wang Fang  "
    assert request.transfers[0].currency == ""  # read as CNY
    assert shown_digest_of_request(request) == shown_digest_of(unconfirmed_entry(request, NOW))
    request.transfers[0].ClearField("transferred_at")
    assert shown_digest_of_request(request) is None


def test_a_confirmed_entry_carries_its_confirmation() -> None:
    request = valid_request()
    confirm_request(request, ConfirmationMethod.RECORDED_CALL, reference=" REC-77 ", confirmed_at=NOW)
    entry = entry_from_request(request, NOW)
    assert entry.confirmation == Confirmation(
        ConfirmationMethod.RECORDED_CALL, "REC-77", NOW, shown_digest_of(unconfirmed_entry(request, NOW))
    )
    assert how_confirmed(entry.confirmation.record()) == "in recorded call REC-77"


def test_dual_screen_needs_no_reference() -> None:
    request = valid_request()
    assert request.confirmation.method == station_pb2.CONFIRMATION_METHOD_DUAL_SCREEN
    assert request.confirmation.reference == ""
    assert entry_from_request(request, NOW).confirmation.method is ConfirmationMethod.DUAL_SCREEN  # type: ignore[union-attr]


def _only(request: station_pb2.SubmitEntryRequest) -> tuple[str, str]:
    with pytest.raises(InvalidRequest) as info:
        entry_from_request(request, NOW)
    (violation,) = info.value.violations
    return violation.field, violation.description


def test_an_entry_without_a_confirmation_is_refused() -> None:
    request = valid_request()
    request.ClearField("confirmation")
    assert _only(request) == ("confirmation", "is required: how the victim confirmed these transfers")


@pytest.mark.parametrize("method", [station_pb2.CONFIRMATION_METHOD_UNSPECIFIED, 7, -1])
def test_a_method_unspecified_or_unknown_is_refused(method: int) -> None:
    request = valid_request()
    request.confirmation.method = method  # type: ignore[assignment]
    assert _only(request)[0] == "confirmation.method"


@pytest.mark.parametrize("method", [ConfirmationMethod.SIGNED_FORM, ConfirmationMethod.RECORDED_CALL])
@pytest.mark.parametrize("reference", ["", "   "])
def test_a_form_or_a_call_needs_its_reference(method: ConfirmationMethod, reference: str) -> None:
    request = valid_request()
    confirm_request(request, method, reference=reference, confirmed_at=NOW)
    field, description = _only(request)
    assert field == "confirmation.reference"
    assert ("form's number" if method is ConfirmationMethod.SIGNED_FORM else "recording's reference") in description


def test_a_reference_is_text_fit_for_a_record() -> None:
    request = valid_request()
    confirm_request(request, ConfirmationMethod.SIGNED_FORM, reference="F-1\u202e2", confirmed_at=NOW)
    assert _only(request)[0] == "confirmation.reference"
    confirm_request(request, ConfirmationMethod.SIGNED_FORM, reference="F" * 65, confirmed_at=NOW)
    assert _only(request)[0] == "confirmation.reference"


def test_a_confirmation_time_missing_in_the_future_or_impossible_is_refused() -> None:
    request = valid_request()
    request.confirmation.ClearField("confirmed_at")
    assert _only(request)[0] == "confirmation.confirmed_at"
    request.confirmation.confirmed_at.FromDatetime(NOW + FUTURE_SKEW + timedelta(seconds=1))
    assert _only(request) == ("confirmation.confirmed_at", "is in the future")
    request.confirmation.confirmed_at.FromDatetime(datetime(1970, 1, 1, tzinfo=UTC))
    assert _only(request)[0] == "confirmation.confirmed_at"
    request.confirmation.confirmed_at.seconds = 2**62
    assert _only(request)[0] == "confirmation.confirmed_at"
    request.confirmation.confirmed_at.FromDatetime(NOW + FUTURE_SKEW)  # the clock skew every time is allowed
    assert entry_from_request(request, NOW).confirmation.confirmed_at == NOW + FUTURE_SKEW  # type: ignore[union-attr]


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_a_digest_not_of_32_bytes_is_refused(length: int) -> None:
    request = valid_request()
    request.confirmation.shown_sha256 = bytes(range(length))
    field, description = _only(request)
    assert field == "confirmation.shown_sha256" and "32 bytes" in description


def test_a_changed_transfer_with_the_old_digest_is_refused() -> None:
    """The victim confirmed ¥3,000.00; the officer then keys ¥30,000.00 and sends the old digest."""
    request = valid_request()
    assert entry_from_request(request, NOW)
    for change in (
        lambda r: setattr(r.transfers[0], "amount_minor", 3_000_000),
        lambda r: setattr(r.transfers[0].payee, "number", "6217000010001234568"),
        lambda r: setattr(r.transfers[0].payee, "holder_name", "Wang Fan"),
        lambda r: r.transfers[0].transferred_at.FromDatetime(NOW - timedelta(minutes=19)),
        lambda r: setattr(r.transfers[0], "txn_id", "T0b"),
        lambda r: setattr(r, "report_no", "R2024-0002"),
        lambda r: setattr(r.victim, "name", "Li Wen"),
        lambda r: add_transfer(r, "T1", 100),
    ):
        spoiled = station_pb2.SubmitEntryRequest()
        spoiled.CopyFrom(request)
        change(spoiled)
        field, description = _only(spoiled)
        assert field == "confirmation.shown_sha256"
        assert "not the digest of these transfers as shown to the victim" in description
        assert "docs/station.md" in description
        assert entry_from_request(reconfirmed(spoiled), NOW)  # confirmed again, it is accepted


def test_what_the_digest_does_not_cover_changes_freely() -> None:
    request = valid_request()
    request.entry_id, request.narrative = "another-entry-0001", "told again"
    request.transfers[0].channel = "counter"
    request.transfers[0].payer.holder_name = "李伟"
    assert entry_from_request(request, NOW)


def test_every_problem_of_the_confirmation_is_reported_with_the_rest() -> None:
    request = valid_request()
    request.station_id = ""
    request.confirmation.method = station_pb2.CONFIRMATION_METHOD_UNSPECIFIED
    request.confirmation.ClearField("confirmed_at")
    request.confirmation.shown_sha256 = b"short"
    assert violated_fields(request, reconfirm=False) == [
        "station_id",
        "confirmation.method",
        "confirmation.confirmed_at",
        "confirmation.shown_sha256",
    ]
    confirm_request(request, ConfirmationMethod.SIGNED_FORM, confirmed_at=NOW)
    request.transfers[0].amount_minor = 0
    assert violated_fields(request, reconfirm=False) == [
        "station_id",
        "transfers[0].amount_minor",
        "confirmation.reference",
        "confirmation.shown_sha256",
    ]


def test_the_client_side_check_leaves_the_confirmation_out() -> None:
    request = valid_request()
    request.ClearField("confirmation")
    entry = unconfirmed_entry(request, NOW)
    assert entry.confirmation is None
    request.confirmation.method = station_pb2.CONFIRMATION_METHOD_UNSPECIFIED
    assert unconfirmed_entry(request, NOW) == entry
    request.station_id = ""
    with pytest.raises(InvalidRequest) as info:
        unconfirmed_entry(request, NOW)
    assert [v.field for v in info.value.violations] == ["station_id"]

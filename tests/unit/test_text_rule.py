"""The one character rule (stopay.domain.text.is_refused) and the fields it guards: identifiers and
names refuse controls, separators, bidirectional controls, BOM and noncharacters; free text keeps
tabs and newlines only. Also the entry's other hostile-input rules: fraud type and old times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stopay.api.hold_validation import formalize_request
from stopay.api.validation import EARLIEST_TRANSFER, InvalidRequest, entry_from_request
from stopay.domain import text
from stopay.domain.text import first_refused, is_refused
from stopay.v1 import common_pb2, holds_pb2, station_pb2
from tests.unit.test_validation import NOW, reconfirmed, valid_request, violated_fields

REFUSED = {
    "NUL": "\x00",
    "ESC": "\x1b",
    "DEL": "\x7f",
    "NEL U+0085": "\x85",
    "C1 U+009F": "\x9f",
    "line separator": "\u2028",
    "paragraph separator": "\u2029",
    "LRE": "\u202a",
    "RLO": "\u202e",
    "LRI": "\u2066",
    "PDI": "\u2069",
    "BOM": "\ufeff",
    "noncharacter U+FDD0": "\ufdd0",
    "noncharacter U+FDEF": "\ufdef",
    "U+FFFE": "\ufffe",
    "U+FFFF": "\uffff",
    "U+1FFFE": "\U0001fffe",
    "U+10FFFF": "\U0010ffff",
    "lone surrogate": "\ud800",
}
# A lone surrogate cannot be put in a message at all: it arrives only as bytes that are not UTF-8,
# which the server refuses before any field is read (tests/integration/test_hostile_input.py).
IN_MESSAGES = {name: c for name, c in REFUSED.items() if name != "lone surrogate"}
KEPT = (
    "A",
    "李",
    "é",
    "\u00a0",
    "\u200d",
    "🧊",
    "\ufdcf",
    "\ufdf0",
    "\ufffd",
    "\U0001fffd",
    "\u2027",
    "\u202f",
    "\u2065",
    "\u206a",
)


@pytest.mark.parametrize("c", REFUSED.values(), ids=REFUSED.keys())
def test_refused_in_identifiers_and_in_free_text(c: str) -> None:
    assert is_refused(c) and is_refused(c, free_text=True)
    assert first_refused(f"ok{c}ok") == f"U+{ord(c):04X}"


@pytest.mark.parametrize("c", KEPT)
def test_letters_symbols_and_joiners_are_kept(c: str) -> None:
    assert not is_refused(c) and first_refused(f"x{c}y") is None


def test_tab_and_newline_only_in_free_text() -> None:
    for c in "\t\n":
        assert is_refused(c) and not is_refused(c, free_text=True)
    assert is_refused("\r", free_text=True)


@pytest.mark.parametrize("c", IN_MESSAGES.values(), ids=IN_MESSAGES.keys())
@pytest.mark.parametrize(
    "field",
    [
        "station_id",
        "officer_id",
        "report_no",
        "victim.name",
        "narrative",
        "transfers[0].payee.holder_name",
        "transfers[0].txn_id",
    ],
)
def test_every_text_field_of_an_entry_refuses_them(field: str, c: str) -> None:
    req = valid_request()
    *parents, name = field.split(".")
    target = req
    for p in parents:
        target = req.transfers[0] if p == "transfers[0]" else getattr(target, p)
    setattr(target, name, f"{c}{getattr(target, name)}")  # also at the start, where strip() would hide some
    assert violated_fields(req) == [field]


def test_a_narrative_keeps_its_lines_and_tabs() -> None:
    req = valid_request()
    req.narrative = "first call\n\tsecond call"
    assert entry_from_request(req, NOW).narrative == "first call\n\tsecond call"
    req.officer_id = "officer\n7"
    assert violated_fields(req) == ["officer_id"]


def test_fraud_type_unspecified_is_refused() -> None:
    req = valid_request()
    req.fraud_type = station_pb2.FRAUD_TYPE_UNSPECIFIED
    with pytest.raises(InvalidRequest) as info:
        entry_from_request(req, NOW)
    assert [v.field for v in info.value.violations] == ["fraud_type"]
    assert "FRAUD_TYPE_OTHER" in info.value.violations[0].description


@pytest.mark.parametrize(
    "at",
    [datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(1970, 1, 1, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC)],
)
def test_a_transfer_before_2000_is_refused(at: datetime) -> None:
    req = valid_request()
    req.transfers[0].transferred_at.FromDatetime(at)
    assert violated_fields(req) == ["transfers[0].transferred_at"]
    req.transfers[0].transferred_at.FromDatetime(EARLIEST_TRANSFER)
    assert entry_from_request(reconfirmed(req), NOW).transfers[0].transferred_at == EARLIEST_TRANSFER


@pytest.mark.parametrize(
    "seconds, nanos", [(1_700_000_000, -1), (1_700_000_000, 10**9), (-(2**63), 0), (2**63 - 1, 0), (253402300800, 0)]
)
def test_a_transfer_time_no_timestamp_can_hold_is_refused(seconds: int, nanos: int) -> None:
    req = valid_request()
    req.transfers[0].transferred_at.seconds, req.transfers[0].transferred_at.nanos = seconds, nanos
    assert violated_fields(req) == ["transfers[0].transferred_at"]


def test_hold_steps_refuse_them_in_identifiers_and_keep_lines_in_the_reason() -> None:
    request = holds_pb2.FormalizeRequest(
        hold=holds_pb2.HoldRef(
            case_id="3f1c2a8e-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
            account=common_pb2.AccountRef(bank_code="ICBC", number="6222020200001111111"),
        ),
        by=holds_pb2.StepBy(officer_id="O-1\u202e", reason="line one\nline two", request_id="\ufeffr-1"),
        document=holds_pb2.LegalDocument(number="D\u2028-1", approver="Chief", amount_minor=100, scope="all\nof it"),
    )
    with pytest.raises(InvalidRequest) as info:
        formalize_request(request)
    assert sorted(v.field for v in info.value.violations) == ["by.officer_id", "by.request_id", "document.number"]


@pytest.mark.parametrize("free_text", [False, True])
def test_a_text_is_searched_for_exactly_the_characters_the_rule_refuses(free_text: bool) -> None:
    """first_refused searches a whole text at once (a regular expression); for every code point it
    finds what is_refused refuses, and nothing else."""
    everything = "".join(map(chr, range(0x110000)))
    found = {ord(c) for c in text._REFUSED[free_text].findall(everything)}
    assert found == {code for code in range(0x110000) if is_refused(chr(code), free_text=free_text)}


def test_the_first_refused_character_is_named() -> None:
    assert first_refused("Wang\u202eFang\x00") == "U+202E"
    assert first_refused("line one\nline two\x85", free_text=True) == "U+0085"
    assert first_refused("line one\nline two", free_text=True) is None
    assert first_refused("line one\nline two") == "U+000A"
    assert first_refused("\U0010ffff") == "U+10FFFF"
    assert first_refused("") is None

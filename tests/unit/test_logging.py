"""stopay.logs: no account or identity number reaches the log in full."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import structlog

from stopay import logs
from stopay.logs import mask_numbers

ACCOUNT = "6222020200001111111"
MASKED = "6222***********1111"


def run(**event: object) -> dict[str, object]:
    return mask_numbers(None, "info", dict(event))


def test_account_keys_are_masked() -> None:
    out = run(event="x", account_number=ACCOUNT, payee_number="123456", payer_number=ACCOUNT, number=ACCOUNT)
    assert out == {
        "event": "x",
        "account_number": MASKED,
        "payee_number": "1****6",
        "payer_number": MASKED,
        "number": MASKED,
    }


def test_identity_keys_are_masked() -> None:
    out = run(event="x", id_number="11010519491231002X", victim_id_number="E12345678")
    assert out["id_number"] == "110*************2X"
    assert out["victim_id_number"] == "E*******8"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"freeze ICBC:{ACCOUNT} now", f"freeze ICBC:{MASKED} now"),
        (f"{ACCOUNT}", MASKED),
        (f"from {ACCOUNT}, to GB29NWBK60161331926819.", f"from {MASKED}, to GB29N*************6819."),
        ("id 11010519491231002X seen", "id 1101**********002X seen"),
        (f"acct_{ACCOUNT}", f"acct_{MASKED}"),
        # Longer than any account (34): an entry id of 35 digits may still hold one.
        ("entry 12345678901234567890123456789012345 in", "entry 123456" + "*" * 25 + "2345 in"),
    ],
)
def test_numbers_in_free_text_are_masked(text: str, masked: str) -> None:
    assert run(event=text)["event"] == masked
    assert run(event="x", detail=text)["detail"] == masked


@pytest.mark.parametrize(
    "text",
    [
        "order 42 held 580000 fen",  # short numbers
        "call 13800000000",  # 11 digits: below the 12-character threshold
        "dispatch.answered ACCR CONFIRMATIONS",  # words, even long upper-case ones
        "ABCDEFGHIJKLMNOP1234567",  # long, but only 7 digits
        "2024-05-01T10:00:00.123456Z",  # a timestamp
        "3f1c2a8e-5b6d-4e7f-8a9b-0c1d2e3f4a5b",  # a UUID
        "abc" + ACCOUNT,  # glued to lower-case letters: not a number on its own
    ],
)
def test_other_text_left_alone(text: str) -> None:
    assert run(event=text)["event"] == text


def test_non_text_values_left_alone() -> None:
    assert run(event="x", held_minor=580000, duplicate=False) == {
        "event": "x",
        "held_minor": 580000,
        "duplicate": False,
    }


def test_numbers_inside_lists_are_masked() -> None:
    # "masks account and identity numbers wherever they appear": a list of accounts is no exception.
    out = run(event="x", accounts=[f"ICBC:{ACCOUNT}"])
    assert ACCOUNT not in json.dumps(out)


@pytest.fixture
def restore_structlog() -> Iterator[None]:
    """Puts back the suite's logging (tests/conftest.py), which the whole suite's log check reads."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def test_configured_json_log_has_no_full_number(capsys: pytest.CaptureFixture[str], restore_structlog: None) -> None:
    logs.configure(json=True)
    structlog.get_logger("test").info(f"freeze ICBC:{ACCOUNT}", account_number=ACCOUNT, detail=f"payee {ACCOUNT}")
    err = capsys.readouterr().err
    assert ACCOUNT not in err
    line = json.loads(err.strip().splitlines()[-1])
    assert line["event"] == f"freeze ICBC:{MASKED}"
    assert line["account_number"] == MASKED
    assert line["detail"] == f"payee {MASKED}"
    assert line["level"] == "info"

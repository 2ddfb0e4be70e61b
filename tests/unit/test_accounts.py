"""stopay.domain.accounts: well-formed bank codes and account numbers, and masking them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stopay.domain.accounts import ACCOUNT_NUMBER, BANK_CODE, AccountKey, mask_identity, mask_number

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def test_mask_known_values() -> None:
    assert mask_number("6222020200001111111") == "6222***********1111"
    assert mask_number("123456") == "1****6"
    assert mask_number("GB29NWBK60161331926819") == "GB29N*************6819"
    assert mask_number("123456789012345678901234") == "123456**************1234"
    assert AccountKey("ICBC", "6222020200001111111").masked == "ICBC:6222***********1111"


@given(st.text(alphabet=ALPHABET, min_size=6, max_size=34))
def test_mask_number_shows_little(number: str) -> None:
    masked = mask_number(number)
    n = len(number)
    assert len(masked) == n
    shown = [i for i, c in enumerate(masked) if c != "*"]
    assert all(i < 6 or i >= n - 4 for i in shown)  # only the first 6 and the last 4
    assert len(shown) <= n // 2  # never more than half
    assert all(masked[i] == number[i] for i in shown)
    assert masked.count("*") == n - len(shown)


def test_mask_identity() -> None:
    assert mask_identity("11010519491231002X") == "110*************2X"
    assert mask_identity("E12345678") == "E*******8"
    assert mask_identity("12345") == "*****"


@pytest.mark.parametrize("code", ["IC", "ICBC", "B0C", "CMBC1234567"])
def test_bank_code_accepts(code: str) -> None:
    assert BANK_CODE.fullmatch(code)


@pytest.mark.parametrize("code", ["", "I", "icbc", "1CBC", "IC-BC", "ICBC12345678", " ICBC"])
def test_bank_code_rejects(code: str) -> None:
    assert not BANK_CODE.fullmatch(code)


@pytest.mark.parametrize("number", ["123456", "6222020200001111111", "GB29NWBK60161331926819", "9" * 34])
def test_account_number_accepts(number: str) -> None:
    assert ACCOUNT_NUMBER.fullmatch(number)


@pytest.mark.parametrize("number", ["12345", "9" * 35, "6222-0202", "6222 020200", "gb29nwbk6016", ""])
def test_account_number_rejects(number: str) -> None:
    assert not ACCOUNT_NUMBER.fullmatch(number)

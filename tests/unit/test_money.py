"""stopay.domain.money: exact formatting and exact rateable splitting of integer minor units."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stopay.domain.money import format_minor, split_largest_remainder

TABLE = json.loads((Path(__file__).parents[1] / "data" / "attribution-table.json").read_text())


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (0, "CNY", "¥0.00"),
        (5, "CNY", "¥0.05"),
        (1999, "CNY", "¥19.99"),
        (5800000000, "CNY", "¥58,000,000.00"),
        (-123456, "CNY", "-¥1,234.56"),
        (-5, "CNY", "-¥0.05"),
        (100, "USD", "$1.00"),
        (100, "XYZ", "XYZ 1.00"),
    ],
)
def test_format_minor(minor: int, currency: str, text: str) -> None:
    assert format_minor(minor, currency) == text


def test_format_minor_defaults_to_cny() -> None:
    assert format_minor(123456789) == "¥1,234,567.89"


def test_rateable_return_known_answer() -> None:
    case = TABLE["rateable_return"]
    assert split_largest_remainder(case["held"], case["losses"]) == case["expect"]
    assert case["expect"] == {"A": 53333, "B": 26667}  # the file itself is what DOMAIN.md says


def test_leftover_goes_to_largest_remainder_then_first_key() -> None:
    # 10 over 3 equal weights: 3.33 each; the one leftover unit goes to the key that sorts first.
    assert split_largest_remainder(10, {"b": 1, "a": 1, "c": 1}) == {"a": 4, "b": 3, "c": 3}
    # 100 over 1:2: exact 33.33 / 66.67, so the unit goes to the larger remainder (b).
    assert split_largest_remainder(100, {"a": 1, "b": 2}) == {"a": 33, "b": 67}


def test_zero_weight_gets_nothing_and_zero_total_gives_zeros() -> None:
    assert split_largest_remainder(7, {"a": 0, "b": 3, "c": 3}) == {"a": 0, "b": 4, "c": 3}
    assert split_largest_remainder(0, {"a": 5, "b": 1}) == {"a": 0, "b": 0}


@given(
    total=st.integers(min_value=0, max_value=10**15),
    weights=st.dictionaries(
        st.text(min_size=1, max_size=3), st.integers(min_value=0, max_value=10**12), min_size=1, max_size=12
    ).filter(lambda w: sum(w.values()) > 0),
)
def test_split_properties(total: int, weights: dict[str, int]) -> None:
    parts = split_largest_remainder(total, weights)
    assert parts.keys() == weights.keys()
    assert sum(parts.values()) == total
    weight_sum = sum(weights.values())
    for key, part in parts.items():
        exact = Fraction(total * weights[key], weight_sum)
        assert part >= 0
        assert abs(part - exact) < 1
        if weights[key] == 0:
            assert part == 0


@pytest.mark.parametrize(
    ("total", "weights"),
    [(-1, {"a": 1}), (10, {}), (10, {"a": 0, "b": 0}), (10, {"a": 5, "b": -1})],
)
def test_split_errors(total: int, weights: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        split_largest_remainder(total, weights)


def test_backoff_grows_exponentially_with_full_jitter_and_a_cap() -> None:
    from stopay.domain.backoff import full_jitter_s

    for attempts, ceiling in ((1, 0.5), (2, 1.0), (4, 4.0), (20, 60.0)):
        samples = [full_jitter_s(attempts, 0.5, 60.0) for _ in range(300)]
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.8  # full jitter reaches up to the ceiling...
        assert min(samples) < ceiling * 0.2  # ...and down to nothing
    assert full_jitter_s(3, 0.5, 60.0, uniform=lambda: 0.5) == 1.0  # half of min(60, 0.5 * 2^2)
    assert full_jitter_s(5000, 0.5, 60.0, uniform=lambda: 0.999) == pytest.approx(59.94)  # no overflow

"""The review of large freezes as pure rules: which freeze goes out, waits or is declined, and when
the case's review is asked for (stopay.domain.review)."""

from __future__ import annotations

import pytest

from stopay.domain.accounts import AccountKey
from stopay.domain.review import (
    Gate,
    Reach,
    ReviewRefused,
    ReviewState,
    Thresholds,
    admit,
    check_decidable,
    gate,
)

T = Thresholds(max_accounts=3, max_amount_minor=1_000)


def key(n: int) -> AccountKey:
    return AccountKey("BK", f"62{n:06d}")


def test_the_defaults_are_200_accounts_and_two_million_yuan() -> None:
    assert Thresholds() == Thresholds(200, 200_000_000)
    with pytest.raises(ValueError, match="at least 1"):
        Thresholds(max_accounts=0)
    with pytest.raises(ValueError, match="at least 1 fen"):
        Thresholds(max_amount_minor=0)


def test_the_freeze_that_would_reach_one_account_too_many_waits_and_so_does_every_one_after() -> None:
    reach = Reach(None)
    for n in range(3):
        decided = gate(reach, key(n), 10, 2, T)
        assert decided is Gate.SEND and not admit(reach, key(n), 10, decided)
    # A second freeze at an account already counted adds no account.
    assert gate(reach, key(0), 10, 3, T) is Gate.SEND
    decided = gate(reach, key(3), 10, 2, T)
    assert decided is Gate.WAIT
    assert admit(reach, key(3), 10, decided)  # the first to wait asks for the review
    assert reach.state is ReviewState.AWAITING and len(reach.accounts) == 3
    # Everything after waits, even at an account already counted, and asks nothing again.
    again = gate(reach, key(0), 10, 2, T)
    assert again is Gate.WAIT and not admit(reach, key(0), 10, again)


def test_money_held_or_in_flight_past_the_amount_waits() -> None:
    reach = Reach(None, {key(0)}, amount_minor=990)
    assert gate(reach, key(0), 10, 2, T) is Gate.SEND  # exactly at the threshold
    assert gate(reach, key(0), 11, 2, T) is Gate.WAIT


def test_the_entry_s_own_freezes_never_wait_but_count() -> None:
    reach = Reach(None, {key(0), key(1), key(2)}, amount_minor=5_000)
    decided = gate(reach, key(9), 10_000, 1, T)
    assert decided is Gate.SEND
    admit(reach, key(9), 10_000, decided)
    assert key(9) in reach.accounts and reach.amount_minor == 15_000


@pytest.mark.parametrize(
    ("state", "expected"), [(ReviewState.APPROVED, Gate.SEND), (ReviewState.DECLINED, Gate.DECLINE)]
)
def test_a_decided_review_sends_or_declines_whatever_the_reach(state: ReviewState, expected: Gate) -> None:
    reach = Reach(state, {key(n) for n in range(50)}, amount_minor=10**9)
    assert gate(reach, key(99), 10**6, 5, T) is expected


def test_only_an_awaiting_review_is_decided() -> None:
    check_decidable(ReviewState.AWAITING, None)
    with pytest.raises(ReviewRefused) as err:
        check_decidable(ReviewState.APPROVED, "officer:sup-7")
    assert err.value.reason == "REVIEW_ALREADY_DECIDED" and "officer:sup-7" in str(err.value)

"""stopay.domain.orders: the freeze order state machine and the meaning of a bank's answer."""

from __future__ import annotations

import pytest

from stopay.domain.orders import (
    TRANSITIONS,
    OrderKind,
    OrderStatus,
    UnknownAnswer,
    kind_may_move,
    settled_status,
    status_for_answer,
)

S = OrderStatus


def can_move(current: OrderStatus, new: OrderStatus) -> bool:
    return (current, new) in TRANSITIONS


def test_terminal_statuses() -> None:
    assert {s for s in S if s.terminal} == {
        S.HELD,
        S.PARTIALLY_HELD,
        S.MOVED_ON,
        S.REJECTED,
        S.UNDELIVERABLE,
        S.RELEASED,
        S.EXTENDED,
        S.RETURNED,
        S.DECLINED,
    }


@pytest.mark.parametrize("status", [s for s in S if s.terminal])
def test_terminal_status_has_no_way_out(status: OrderStatus) -> None:
    assert not any(can_move(status, new) for new in S)
    assert all(current != status for current, _ in TRANSITIONS)


@pytest.mark.parametrize("status", list(S))
def test_nothing_moves_back_to_queued_and_nothing_stays_put(status: OrderStatus) -> None:
    for kind in OrderKind:
        # A stop waiting for review was never sent: approved, it is queued for the first time.
        first_send = kind is OrderKind.STOP and status is S.AWAITING_REVIEW
        assert kind_may_move(kind, status, S.QUEUED) == first_send
    assert not can_move(status, status)


def test_only_a_stop_waits_before_it_is_sent_and_only_a_freeze_order_after_its_statement() -> None:
    assert kind_may_move(OrderKind.FREEZE, S.QUEUED, S.AWAITING_REVIEW)
    assert not kind_may_move(OrderKind.STOP, S.QUEUED, S.AWAITING_REVIEW)
    assert kind_may_move(OrderKind.FREEZE, S.AWAITING_REVIEW, S.FREEZING)
    assert not kind_may_move(OrderKind.STOP, S.AWAITING_REVIEW, S.FREEZING)
    assert not kind_may_move(OrderKind.FREEZE, S.AWAITING_REVIEW, S.QUEUED)
    for kind in (OrderKind.FREEZE, OrderKind.STOP):
        assert kind_may_move(kind, S.AWAITING_REVIEW, S.DECLINED)
        for end in (S.HELD, S.PENDING, S.UNDELIVERABLE, S.REJECTED, S.MOVED_ON):
            assert not kind_may_move(kind, S.AWAITING_REVIEW, end)  # never sent: no bank answers it
    assert not S.AWAITING_REVIEW.terminal and not S.AWAITING_REVIEW.open


def test_open_statuses_can_be_answered_or_given_up() -> None:
    for start in (S.QUEUED, S.PENDING):
        for end in (S.HELD, S.PARTIALLY_HELD, S.MOVED_ON, S.REJECTED, S.UNDELIVERABLE):
            assert can_move(start, end)
    assert can_move(S.QUEUED, S.PENDING)
    assert not can_move(S.PENDING, S.QUEUED)


@pytest.mark.parametrize(
    ("code", "held", "requested", "status"),
    [
        ("ACCR", 5000, 5000, S.HELD),
        ("PECR", 5000, 5000, S.HELD),
        ("PECR", 1, 5000, S.PARTIALLY_HELD),
        ("PECR", 4999, 5000, S.PARTIALLY_HELD),
        ("PECR", 0, 5000, S.MOVED_ON),
        ("PDCR", 0, 5000, S.PENDING),
        ("RJCR", 0, 5000, S.REJECTED),
    ],
)
def test_status_for_answer(code: str, held: int, requested: int, status: OrderStatus) -> None:
    assert status_for_answer(code, held, requested, requested) is status


@pytest.mark.parametrize(
    ("code", "held", "asked", "requested", "status"),
    [
        # The statement showed only 35,000,000 of the 58,000,000 that came in; all of it was held.
        ("ACCR", 35000000, 35000000, 58000000, S.PARTIALLY_HELD),
        # Asked for what the statement showed, and the bank had it all: the whole of the order's money.
        ("ACCR", 5000, 5000, 5000, S.HELD),
        # The money moved between statement and freeze: less than asked.
        ("PECR", 3000, 5000, 5000, S.PARTIALLY_HELD),
        ("PECR", 0, 5000, 8000, S.MOVED_ON),
    ],
)
def test_status_is_judged_against_the_money_the_order_followed(
    code: str, held: int, asked: int, requested: int, status: OrderStatus
) -> None:
    assert status_for_answer(code, held, asked, requested) is status
    assert settled_status(held, requested) is status


@pytest.mark.parametrize(
    ("code", "held", "requested", "message"),
    [
        ("ACCR", 5001, 5000, "outside"),  # held more than requested
        ("PECR", 5001, 5000, "outside"),
        ("PECR", -1, 5000, "outside"),  # negative
        ("ACCR", 4000, 5000, "whole"),  # ACCR must hold everything
        ("RJCR", 100, 5000, "cannot hold"),
        ("PDCR", 100, 5000, "cannot hold"),
        ("CNCX", 0, 5000, "unknown answer status"),
        ("", 0, 5000, "unknown answer status"),
        ("accr", 5000, 5000, "unknown answer status"),
    ],
)
def test_status_for_answer_rejects_nonsense(code: str, held: int, requested: int, message: str) -> None:
    with pytest.raises(UnknownAnswer, match=message):
        status_for_answer(code, held, requested, requested)


def test_freezing_comes_only_after_the_statement_and_never_back() -> None:
    assert can_move(S.QUEUED, S.FREEZING)
    # ... or after a review let the freeze its statement sized go out.
    assert {start for start, end in TRANSITIONS if end is S.FREEZING} == {S.QUEUED, S.AWAITING_REVIEW}
    assert not can_move(S.PENDING, S.FREEZING)
    for end in (S.HELD, S.PARTIALLY_HELD, S.MOVED_ON, S.REJECTED, S.UNDELIVERABLE, S.PENDING):
        assert can_move(S.FREEZING, end)
    assert not S.FREEZING.terminal

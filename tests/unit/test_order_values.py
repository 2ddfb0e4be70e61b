"""The typed values of freeze orders and the decisions made on them (stopay.domain.orders and
stopay.domain.settlement): pure, no database."""

from __future__ import annotations

import pytest

from stopay.domain.holds import HoldState
from stopay.domain.orders import (
    OPEN,
    UNRESOLVED,
    BankRequest,
    OrderKind,
    OrderStatus,
    RetryPlan,
    RetryRefused,
    asks_statement,
    bank_request,
    freeze_out,
    retry_plan,
)
from stopay.domain.settlement import (
    AccountMoney,
    Settlement,
    ask_again_after_refusal,
    judged,
    return_completes,
    settle,
    starts_hold,
    top_up,
)

K, S = OrderKind, OrderStatus


def test_open_is_queued_freezing_or_pending_and_nothing_else_is() -> None:
    assert OPEN == {S.QUEUED, S.FREEZING, S.PENDING}
    assert {s for s in S if s.open} == OPEN
    # A freeze waiting for review is neither open (never claimed, never due) nor final.
    assert {s for s in S if not s.terminal} == UNRESOLVED == OPEN | {S.AWAITING_REVIEW}
    assert all(s.terminal != s.open for s in S if s is not S.AWAITING_REVIEW)


def test_the_kinds_are_the_five_the_database_knows() -> None:
    assert [k.value for k in K] == ["freeze", "stop", "release", "extend", "return"]
    assert {k for k in K if k.gives_back} == {K.RELEASE, K.RETURN}


def test_the_values_read_as_their_text() -> None:
    assert f"order.{S.MOVED_ON}" == "order.moved_on"
    assert K("return") is K.RETURN and S("freezing") is S.FREEZING


@pytest.mark.parametrize("kind", list(K))
@pytest.mark.parametrize("status", list(S))
def test_only_a_freeze_asking_for_its_statement_cannot_have_moved_money(kind: OrderKind, status: OrderStatus) -> None:
    assert asks_statement(kind, status) == (kind is K.FREEZE and status is S.QUEUED)
    assert freeze_out(kind, status) == (
        # a waiting freeze's money is set aside in flight too
        (kind is K.FREEZE and status in (S.FREEZING, S.PENDING, S.AWAITING_REVIEW))
        or (kind is K.STOP and status in (S.QUEUED, S.PENDING, S.AWAITING_REVIEW))
    )


def test_a_stop_asks_for_the_freeze_from_its_start() -> None:
    assert bank_request(K.STOP, S.QUEUED) is BankRequest.FREEZE
    assert bank_request(K.STOP, S.PENDING) is BankRequest.FREEZE
    assert bank_request(K.FREEZE, S.QUEUED) is BankRequest.STATEMENT


def test_a_stop_is_retried_back_in_flight() -> None:
    plan = retry_plan(K.STOP, S.UNDELIVERABLE, 5000, hold_live=False)
    assert plan == RetryPlan(K.STOP, 0, in_flight_minor=5000)
    assert isinstance(plan, RetryPlan) and not plan.puts_back


def test_a_stop_is_retried_for_what_the_statement_shows_is_still_short() -> None:
    # Once a statement of the account was applied, its freeze order may have frozen the money since.
    assert retry_plan(K.STOP, S.UNDELIVERABLE, 5000, False, short_minor=2000) == RetryPlan(K.STOP, 0, 2000)
    assert retry_plan(K.STOP, S.UNDELIVERABLE, 5000, False, short_minor=9000) == RetryPlan(K.STOP, 0, 5000)
    assert retry_plan(K.STOP, S.UNDELIVERABLE, 5000, False, short_minor=0) is RetryRefused.NOTHING_TO_FREEZE


@pytest.mark.parametrize("status", [s for s in S if s is not S.UNDELIVERABLE])
@pytest.mark.parametrize("kind", list(K))
def test_only_an_undeliverable_order_is_retried(kind: OrderKind, status: OrderStatus) -> None:
    assert retry_plan(kind, status, 5000, hold_live=True) is RetryRefused.NOT_UNDELIVERABLE


def test_a_freeze_is_retried_from_the_statement_whatever_the_hold() -> None:
    assert retry_plan(K.FREEZE, S.UNDELIVERABLE, 5000, hold_live=False) == RetryPlan(K.FREEZE, 0)
    assert not RetryPlan(K.FREEZE, 0).puts_back


def test_an_extension_is_retried_only_while_its_hold_is_live() -> None:
    assert retry_plan(K.EXTEND, S.UNDELIVERABLE, 5000, hold_live=True) == RetryPlan(K.EXTEND, 0)
    assert retry_plan(K.EXTEND, S.UNDELIVERABLE, 5000, hold_live=False) is RetryRefused.HOLD_ENDED


@pytest.mark.parametrize("kind", [K.RELEASE, K.RETURN])
def test_a_release_or_a_return_puts_its_money_back_among_what_is_going_out(kind: OrderKind) -> None:
    plan = retry_plan(kind, S.UNDELIVERABLE, 5000, hold_live=False)
    assert plan == RetryPlan(kind, 5000)
    assert isinstance(plan, RetryPlan) and plan.puts_back


MONEY = AccountMoney(left_minor=10_000, held_minor=2_000, in_flight_minor=6_000, releasing_minor=0)


def test_a_freeze_answered_holds_what_it_held_and_is_no_longer_in_flight() -> None:
    done = settle(K.FREEZE, S.FREEZING, S.PARTIALLY_HELD, 8_000, 6_000, 5_000, 0, MONEY)
    assert done == Settlement(AccountMoney(10_000, 7_000, 0, 0), release_minor=0)


def test_a_freeze_answered_after_a_fuller_view_gives_the_excess_back() -> None:
    fuller = AccountMoney(left_minor=4_000, held_minor=2_000, in_flight_minor=6_000, releasing_minor=0)
    done = settle(K.FREEZE, S.PENDING, S.HELD, 8_000, 6_000, 6_000, 0, fuller)
    assert done == Settlement(AccountMoney(4_000, 8_000, 0, 0), release_minor=4_000)


def test_a_pending_answer_moves_no_money() -> None:
    assert settle(K.FREEZE, S.FREEZING, S.PENDING, 8_000, 6_000, 0, 0, MONEY) == Settlement(MONEY)


@pytest.mark.parametrize("after", [S.REJECTED, S.UNDELIVERABLE, S.MOVED_ON])
def test_a_statement_settled_moves_no_money(after: OrderStatus) -> None:
    assert settle(K.FREEZE, S.QUEUED, after, 8_000, None, 0, 0, MONEY) == Settlement(MONEY)


@pytest.mark.parametrize("kind", [K.RELEASE, K.RETURN])
def test_a_release_or_return_answered_is_no_longer_going_out_and_no_longer_held(kind: OrderKind) -> None:
    going = AccountMoney(left_minor=0, held_minor=5_000, in_flight_minor=0, releasing_minor=5_000)
    assert settle(kind, S.QUEUED, S.RELEASED, 5_000, None, 0, 3_000, going) == Settlement(AccountMoney(0, 2_000, 0, 0))
    # Refused or undeliverable: nothing left the hold, and nothing is going out any more.
    assert settle(kind, S.QUEUED, S.REJECTED, 5_000, None, 0, 0, going) == Settlement(AccountMoney(0, 5_000, 0, 0))


def test_an_extension_answered_moves_no_money() -> None:
    assert settle(K.EXTEND, S.QUEUED, S.EXTENDED, 5_000, None, 0, 0, MONEY) == Settlement(MONEY)


def test_the_first_money_a_freeze_holds_starts_the_hold() -> None:
    assert starts_hold(K.FREEZE, None, 1)
    assert not starts_hold(K.FREEZE, None, 0)
    assert not starts_hold(K.FREEZE, HoldState.STOPPED, 1)
    assert not starts_hold(K.RELEASE, None, 1)


def test_a_returning_hold_is_returned_once_nothing_is_held_or_going_out() -> None:
    empty = AccountMoney(0, 0, 0, 0)
    assert return_completes(K.RETURN, HoldState.RETURNING, empty)
    assert not return_completes(K.RETURN, HoldState.RETURNING, AccountMoney(0, 0, 0, 1))
    assert not return_completes(K.RETURN, HoldState.RETURNING, AccountMoney(0, 1, 0, 0))
    assert not return_completes(K.RELEASE, HoldState.RETURNING, empty)
    assert not return_completes(K.RETURN, HoldState.FROZEN, empty)


def test_only_a_formal_freeze_is_capped_by_its_document() -> None:
    from stopay.domain.holds import document_cap

    assert document_cap(HoldState.FROZEN, 40_000) == 40_000
    assert document_cap(HoldState.FROZEN, None) is None
    for state in (None, HoldState.STOPPED, HoldState.RETURNING, HoldState.RETURNED, HoldState.RELEASED):
        assert document_cap(state, 40_000) is None


def test_what_an_open_order_asks_its_bank_for() -> None:
    from stopay.domain.orders import BankRequest, bank_request

    assert bank_request(K.FREEZE, S.QUEUED) is BankRequest.STATEMENT
    assert bank_request(K.FREEZE, S.FREEZING) is BankRequest.FREEZE
    assert bank_request(K.FREEZE, S.PENDING) is BankRequest.FREEZE  # the status query
    assert bank_request(K.RELEASE, S.QUEUED) is BankRequest.RELEASE
    assert bank_request(K.EXTEND, S.QUEUED) is BankRequest.EXTEND
    assert bank_request(K.RETURN, S.QUEUED) is BankRequest.RETURN


def test_the_schema_spells_the_open_statuses_once() -> None:
    """stopay/store/schema.sql (the migrated schema) names the open statuses together only in
    freeze_order_open, the database's twin of OPEN; every view, index, check and guard asks it."""
    from pathlib import Path

    schema = (Path(__file__).resolve().parents[2] / "stopay" / "store" / "schema.sql").read_text(encoding="utf-8")
    statuses = sorted(s.value for s in OPEN)
    spelled = [
        line
        for line in schema.splitlines()
        if all(f"'{s}'" in line for s in statuses) and not line.lstrip().startswith("CONSTRAINT freeze_orders_status")
    ]
    function = schema[schema.index("FUNCTION public.freeze_order_open(") :].split("\n\n", 1)[0]
    assert len(spelled) == 1 and spelled[0] in function.splitlines(), spelled
    # the function, the due index, the open orders' index, and freeze_order_unresolved's body
    assert schema.count("freeze_order_open(") >= 4
    # the function, the check, the view, the guard
    assert schema.count("freeze_order_unresolved(") >= 4


# ---- stop first ---------------------------------------------------------------------------------


def test_a_stop_answered_before_its_statement_keeps_all_it_held() -> None:
    # Nothing is known of the account yet (left 0): giving back now would give back the victim's money.
    unknown = AccountMoney(left_minor=0, held_minor=0, in_flight_minor=58_000, releasing_minor=0)
    done = settle(K.STOP, S.QUEUED, S.PARTIALLY_HELD, 58_000, 58_000, 40_000, 0, unknown, judge=False)
    assert done == Settlement(AccountMoney(0, 40_000, 0, 0), release_minor=0)


def test_a_stop_answered_after_its_statement_gives_back_what_is_not_the_victims() -> None:
    known = AccountMoney(left_minor=35_000, held_minor=0, in_flight_minor=58_000, releasing_minor=0)
    done = settle(K.STOP, S.QUEUED, S.PARTIALLY_HELD, 58_000, 58_000, 40_000, 0, known, judge=True)
    assert done == Settlement(AccountMoney(35_000, 40_000, 0, 0), release_minor=5_000)


def test_the_first_money_a_stop_holds_starts_the_hold() -> None:
    assert starts_hold(K.STOP, None, 1)
    assert not starts_hold(K.RELEASE, None, 1)


SHORT = AccountMoney(left_minor=50_000, held_minor=20_000, in_flight_minor=0, releasing_minor=0)


def test_a_case_short_of_its_victims_money_asks_again_once_per_release() -> None:
    assert top_up(SHORT, True, HoldState.STOPPED, None, asked_releases=0, releases=1) == 30_000
    assert top_up(SHORT, True, HoldState.STOPPED, None, asked_releases=1, releases=1) == 0


@pytest.mark.parametrize(
    "money, judge",
    [
        (SHORT, False),  # a statement is due (it sizes the freeze), or none was applied yet
        (AccountMoney(50_000, 20_000, 1, 0), True),  # a freeze is out: its answer comes first
        (AccountMoney(50_000, 20_000, 0, 1), True),  # a release is out: its answer comes first
        (AccountMoney(20_000, 20_000, 0, 0), True),  # nothing short
    ],
)
def test_no_top_up_while_an_answer_is_to_come_or_nothing_is_short(money: AccountMoney, judge: bool) -> None:
    assert top_up(money, judge, HoldState.STOPPED, None, asked_releases=0, releases=3) == 0


def test_a_top_up_stays_within_the_hold() -> None:
    assert top_up(SHORT, True, HoldState.FROZEN, 25_000, asked_releases=0, releases=1) == 5_000
    assert top_up(SHORT, True, HoldState.RETURNING, None, asked_releases=0, releases=1) == 0
    assert top_up(SHORT, True, HoldState.LAPSED, None, asked_releases=0, releases=1) == 0
    # An objection partly upheld left ¥250 held: the part given back is never asked for again.
    assert top_up(SHORT, True, HoldState.STOPPED, None, asked_releases=0, releases=1, limit_minor=25_000) == 5_000
    assert top_up(SHORT, True, HoldState.STOPPED, None, asked_releases=0, releases=1, limit_minor=20_000) == 0
    assert top_up(SHORT, True, HoldState.FROZEN, 45_000, asked_releases=0, releases=1, limit_minor=25_000) == 5_000


def test_an_account_is_judged_once_traced_and_no_statement_is_due() -> None:
    assert judged(0, traced=True)
    assert not judged(1, traced=True)
    assert not judged(0, traced=False)  # a stop answered, but no statement ever applied


def test_the_last_statement_due_given_up_lets_what_the_earlier_ones_showed_stand() -> None:
    held = AccountMoney(left_minor=3_000, held_minor=5_000, in_flight_minor=0, releasing_minor=0)
    done = settle(K.FREEZE, S.QUEUED, S.UNDELIVERABLE, 5_000, None, 0, 0, held, judge=True)
    assert done == Settlement(held, release_minor=2_000)
    assert settle(K.FREEZE, S.QUEUED, S.UNDELIVERABLE, 5_000, None, 0, 0, held, judge=False) == Settlement(held)


KNOWN = AccountMoney(left_minor=5_000, held_minor=0, in_flight_minor=0, releasing_minor=0)


def test_a_stop_the_bank_rejected_is_asked_again_once_the_account_is_known() -> None:
    assert ask_again_after_refusal(K.STOP, S.REJECTED, twin=True, judge=True, money=KNOWN) == 5_000
    # The statement still due sizes the freeze; a top-up is not asked again; an operator retries an
    # undeliverable stop.
    assert ask_again_after_refusal(K.STOP, S.REJECTED, twin=True, judge=False, money=KNOWN) == 0
    assert ask_again_after_refusal(K.STOP, S.REJECTED, twin=False, judge=True, money=KNOWN) == 0
    assert ask_again_after_refusal(K.STOP, S.UNDELIVERABLE, twin=True, judge=True, money=KNOWN) == 0
    assert ask_again_after_refusal(K.FREEZE, S.REJECTED, twin=False, judge=True, money=KNOWN) == 0

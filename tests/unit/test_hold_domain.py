"""The rules other parts of stopay ask of holds and returns, in pure code (no database): the hold
window a statement and a step keep to, the legal document's cap, the warning window, when a hold
starts and a return completes, whether a return can be taken and when it is paid."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from stopay.config import Settings
from stopay.dispatch.dispatcher import DispatchSettings
from stopay.domain.approvals import ApprovalAction, ApprovalStatus
from stopay.domain.holds import (
    Holding,
    HoldPolicy,
    HoldRefused,
    HoldState,
    LegalDocument,
    document_cap,
    left_within_hold,
    notice_ended,
    return_completes,
    starts_hold,
    statement_within_hold,
    warn_due,
)
from stopay.domain.orders import OrderStatus
from stopay.domain.returns import CaseOnAccount, Flow, ReturnPlan, check_returnable, plan_account_return, timing

S = HoldState
POLICY = HoldPolicy()
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DOC = LegalDocument("GA-1", "Chief Wang", 60_000, "the account", False)


def test_a_state_is_read_from_a_row_and_compares_as_its_name() -> None:
    assert HoldState.of(None) is None
    assert HoldState.of("frozen") is S.FROZEN
    assert f"{S.RETURNING}" == "returning" and S.STOPPED == "stopped"
    with pytest.raises(ValueError):
        HoldState.of("thawed")
    assert {s for s in S if s.live} == {S.STOPPED, S.FROZEN}


def test_only_a_formal_freeze_is_capped_by_its_document() -> None:
    assert document_cap(S.FROZEN, DOC.amount_minor) == 60_000
    assert document_cap(S.STOPPED, DOC.amount_minor) is None
    assert document_cap(S.FROZEN, None) is None
    assert document_cap(None, None) is None


@pytest.mark.parametrize(
    ("state", "cap", "left", "kept"),
    [
        (None, None, 90_000, 90_000),
        (S.STOPPED, None, 90_000, 90_000),
        (S.FROZEN, 60_000, 90_000, 60_000),
        (S.FROZEN, 60_000, 40_000, 40_000),
        (S.RELEASED, None, 90_000, 0),
        (S.LAPSED, 60_000, 90_000, 0),
        (S.RETURNED, None, 90_000, 0),
    ],
)
def test_what_a_case_may_keep_held_under_its_hold(
    state: HoldState | None, cap: int | None, left: int, kept: int
) -> None:
    assert left_within_hold(state, cap, left) == kept


def test_a_statement_is_held_to_the_hold() -> None:
    # No hold yet, or an emergency stop: the statement's own figures stand.
    assert statement_within_hold(None, None, 100_000, 0, 0, 0) is None
    assert statement_within_hold(S.STOPPED, None, 100_000, 50_000, 0, 0) is None
    # A returning hold stays as the return planned it.
    assert statement_within_hold(S.RETURNING, None, 100_000, 100_000, 0, 0) == Holding(0, 0, 0)
    # A formal freeze: at most its document, the excess given back once nothing is in flight.
    assert statement_within_hold(S.FROZEN, 40_000, 100_000, 70_000, 0, 0) == Holding(40_000, 0, 30_000)
    assert statement_within_hold(S.FROZEN, 40_000, 100_000, 30_000, 0, 0) == Holding(40_000, 10_000, 0)
    # An ended hold gives back what a late freeze held.
    assert statement_within_hold(S.LAPSED, None, 100_000, 20_000, 0, 5_000) == Holding(0, 0, 15_000)


def test_a_formal_freeze_move_carries_its_document_s_cap() -> None:
    from stopay.domain.holds import Hold, formalize, release, renew

    stop = Hold(S.STOPPED, 1, 2, 0, False, False, 100_000, 0)
    move = formalize(stop, POLICY, DOC, False)
    assert (move.cap_minor, move.keep_minor, left_within_hold(move.state, move.cap_minor, 90_000)) == (
        60_000,
        60_000,
        60_000,
    )
    assert renew(stop, POLICY).cap_minor is None
    assert left_within_hold(release(stop).state, release(stop).cap_minor, 90_000) == 0


def test_the_first_money_held_starts_a_hold_and_a_return_completes_when_all_is_paid() -> None:
    assert starts_hold(None, 1)
    assert not starts_hold(None, 0)
    assert not starts_hold(S.LAPSED, 5_000)  # an ended hold is not started again
    assert return_completes(S.RETURNING, 0, 0)
    assert not return_completes(S.RETURNING, 0, 100)  # a payment still out
    assert not return_completes(S.RETURNING, 100, 0)
    assert not return_completes(S.FROZEN, 0, 0)
    assert not return_completes(None, 0, 0)


def test_each_live_state_has_its_warning_window() -> None:
    policy = HoldPolicy(stop_warn_hours=6, freeze_warn_days=10)
    assert policy.warning(S.STOPPED) == timedelta(hours=6)
    assert policy.warning(S.FROZEN) == timedelta(days=10)
    assert policy.warnings() == {S.STOPPED: timedelta(hours=6), S.FROZEN: timedelta(days=10)}
    assert all(policy.warning(s) is None for s in S if not s.live)


@pytest.mark.parametrize(
    ("state", "expires_in", "warned", "due"),
    [
        (S.STOPPED, timedelta(hours=11), False, True),
        (S.STOPPED, timedelta(hours=12), False, True),  # the window's edge is in it
        (S.STOPPED, timedelta(hours=13), False, False),
        (S.STOPPED, timedelta(hours=11), True, False),  # once per period
        (S.STOPPED, timedelta(0), False, False),  # expired: the sweeper lapses it instead
        (S.FROZEN, timedelta(days=14), False, True),
        (S.FROZEN, timedelta(days=16), False, False),
        (S.RETURNING, timedelta(hours=1), False, False),
        (S.RELEASED, timedelta(hours=1), False, False),
    ],
)
def test_the_sweeper_warns_within_the_window_once(
    state: HoldState, expires_in: timedelta, warned: bool, due: bool
) -> None:
    assert warn_due(state, NOW + expires_in, NOW if warned else None, NOW, POLICY) is due


def test_a_return_s_notice_ends_once() -> None:
    assert notice_ended(S.RETURNING, NOW, None, NOW)
    assert not notice_ended(S.RETURNING, NOW + timedelta(seconds=1), None, NOW)
    assert not notice_ended(S.RETURNING, NOW, NOW, NOW)  # paid already
    assert not notice_ended(S.RETURNED, NOW, None, NOW)
    assert not notice_ended(S.RETURNING, None, None, NOW)


def _case(
    case: str,
    hold: HoldState | None = S.FROZEN,
    *,
    held: int = 50_000,
    loss: int = 50_000,
    in_flight: int = 0,
    releasing: int = 0,
    expires_in: timedelta = timedelta(days=90),
    extension: OrderStatus | None = OrderStatus.EXTENDED,
) -> CaseOnAccount:
    return CaseOnAccount(case, hold, held, in_flight, releasing, ((("L1", loss),),), NOW + expires_in, extension)


def test_a_return_is_planned_over_the_holds_that_take_part() -> None:
    plan = plan_account_return([_case("A", held=30_000, loss=100), _case("B", S.RELEASED, held=0)], NOW, POLICY)
    assert plan == ReturnPlan(True, {"A": 30_000}, (Flow("A", "A", 30_000),))
    assert (timing(plan, POLICY).notice_days, timing(plan, POLICY).parked) == (0, False)
    # A case that found the account unrelated has no victim's share in it.
    assert _case("B", S.RELEASED).loss_minor == 0 and _case("B", S.LAPSED).loss_minor == 50_000
    rateable = plan_account_return([_case("A", loss=1_000), _case("B", loss=500)], NOW, POLICY)
    assert not rateable.direct and rateable.total_minor == 100_000
    assert rateable.paid_by() == {"A": 50_000, "B": 50_000}
    assert (timing(rateable, POLICY).notice_days, timing(rateable, POLICY).parked) == (POLICY.notice_days, True)


@pytest.mark.parametrize(
    ("case", "direct", "refusal"),
    [
        (_case("A", in_flight=1), True, "still out with the bank"),
        (_case("A", releasing=1), True, "still out with the bank"),
        (_case("A", S.RETURNING), True, "already under way"),
        (_case("A", S.STOPPED), True, "only a formal freeze"),
        (_case("A", None), True, "is missing"),
        (_case("A", extension=OrderStatus.QUEUED), True, "not confirmed"),
        (_case("A", extension=None), True, "extension is missing"),
        (_case("A", expires_in=timedelta(0)), True, "has expired"),
        (_case("A", expires_in=timedelta(days=29)), False, "before the return notice ends"),
    ],
)
def test_a_return_the_holds_cannot_pay_is_refused(case: CaseOnAccount, direct: bool, refusal: str) -> None:
    with pytest.raises(HoldRefused, match=refusal):
        check_returnable([case], direct, NOW, POLICY)


def test_holds_that_take_no_part_or_hold_nothing_are_not_checked() -> None:
    check_returnable([_case("A", S.RELEASED, in_flight=5), _case("B", S.STOPPED, held=0)], True, NOW, POLICY)
    # A direct return is paid at once: a freeze lapsing within the notice does not stop it.
    check_returnable([_case("A", expires_in=timedelta(days=1))], True, NOW, POLICY)


def test_approval_actions_and_statuses_are_typed() -> None:
    assert {a.value for a in ApprovalAction} == {"formalize", "return"}
    assert ApprovalStatus("requested") is ApprovalStatus.REQUESTED


def test_the_hold_policy_is_its_own_settings_section() -> None:
    short = HoldPolicy(stop_hours=24)
    assert Settings(holds=short).holds == short
    assert Settings().holds == HoldPolicy()
    # The dispatcher is handed the one policy (bootstrap); its own settings carry none.
    assert "holds" not in {f.name for f in dataclasses.fields(DispatchSettings)}


def test_a_move_that_ends_a_hold_says_why() -> None:
    from stopay.domain.holds import Hold, HoldEnd, formalize, lapse, release

    stop = Hold(S.STOPPED, 1, 2, 0, False, True, 100_000, 0)
    assert (release(stop).end, lapse(stop).end) == (HoldEnd.UNRELATED, HoldEnd.EXPIRED)
    live = Hold(S.STOPPED, 1, 2, 0, False, False, 100_000, 0)
    assert formalize(live, POLICY, DOC, False).end is HoldEnd.NONE and HoldEnd.NONE == ""


def test_the_changes_a_move_asks_of_the_bank_are_the_bank_adapters_own() -> None:
    from bank_adapters.protocol import HoldChange as BankHoldChange
    from stopay.domain.holds import HoldChange

    assert [c.value for c in HoldChange] == [c.value for c in BankHoldChange]

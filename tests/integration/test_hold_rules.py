"""stopay.domain.holds and stopay.domain.returns: the hold state machine, its limits, and who gets
what back, in pure code; and the database's hold transitions equal the domain's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stopay.domain.holds import (
    TRANSITIONS,
    Hold,
    HoldPolicy,
    HoldRefused,
    HoldState,
    LegalDocument,
    formalize,
    lapse,
    release,
    renew,
)
from stopay.domain.returns import Flow, plan_return

S = HoldState
POLICY = HoldPolicy()
TABLE = json.loads((Path(__file__).parents[1] / "data" / "attribution-table.json").read_text(encoding="utf-8"))
DOC = LegalDocument("GA-1", "Chief Wang", 60_000, "the account", False)


def hold(
    state: HoldState = S.STOPPED,
    *,
    stops: int = 1,
    freezes: int = 0,
    expired: bool = False,
    held: int = 100_000,
    busy: int = 0,
) -> Hold:
    return Hold(state, stops, POLICY.max_stops, freezes, False, expired, held, busy)


def test_a_stop_renews_until_the_limit() -> None:
    step = renew(hold(), POLICY)
    assert (step.state, step.change, step.stops, step.period.hours, step.period.extend) == (
        S.STOPPED,
        "RENEW_STOP",
        2,
        48,
        True,
    )
    with pytest.raises(HoldRefused, match="most allowed"):
        renew(hold(stops=2), POLICY)
    # The limit is the one the hold started under (a later change of policy does not move it).
    roomier = Hold(S.STOPPED, 2, 3, 0, False, False, 100_000, 0)
    assert renew(roomier, POLICY).stops == 3


@pytest.mark.parametrize("state", [S.RELEASED, S.LAPSED, S.RETURNING, S.RETURNED])
def test_nothing_but_a_live_hold_takes_a_step(state: HoldState) -> None:
    for step in (lambda h: renew(h, POLICY), lambda h: formalize(h, POLICY, DOC, False), release, lapse):
        with pytest.raises(HoldRefused):
            step(hold(state))


def test_an_expired_hold_is_not_revived() -> None:
    with pytest.raises(HoldRefused, match="expired"):
        renew(hold(expired=True), POLICY)
    with pytest.raises(HoldRefused, match="expired"):
        formalize(hold(expired=True), POLICY, DOC, False)
    assert lapse(hold(expired=True)).state is S.LAPSED


def test_a_formal_freeze_keeps_what_its_document_names_for_its_months() -> None:
    step = formalize(hold(), POLICY, DOC, major=False)
    assert (step.state, step.change, step.freezes, step.keep_minor, step.release_minor) == (
        S.FROZEN,
        "FORMAL_FREEZE",
        1,
        60_000,
        40_000,
    )
    assert (step.period.months, step.period.extend) == (6, False)  # from now
    renewal = formalize(hold(S.FROZEN, freezes=1, held=60_000), POLICY, DOC, major=True)
    assert (renewal.change, renewal.freezes, renewal.major, renewal.release_minor) == ("RENEW_FREEZE", 2, True, 0)
    assert (renewal.period.months, renewal.period.extend) == (12, True)  # from the old expiry
    with pytest.raises(HoldRefused, match="legal document"):
        renew(hold(S.FROZEN), POLICY)
    with pytest.raises(HoldRefused, match="still out with the bank"):
        formalize(hold(busy=1), POLICY, DOC, False)


def test_release_and_lapse_give_back_everything_held() -> None:
    assert (release(hold()).state, release(hold()).release_minor) == (S.RELEASED, 100_000)
    assert (lapse(hold(S.FROZEN)).state, lapse(hold(S.FROZEN)).release_minor) == (S.LAPSED, 100_000)


def test_policy_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="max_stops"):
        HoldPolicy(max_stops=0)
    with pytest.raises(ValueError, match="notice_days"):
        HoldPolicy(notice_days=-1)


async def test_database_hold_transitions_equal_the_domain(pool) -> None:
    rows = await pool.fetch("SELECT from_state, to_state FROM hold_transitions")
    assert {(S(r[0]), S(r[1])) for r in rows} == set(TRANSITIONS)
    assert not any(state.ended for state, _ in TRANSITIONS)


def test_the_rateable_return_known_answer() -> None:
    known = TABLE["rateable_return"]
    plan = plan_return({"A": known["held"]}, known["losses"])
    assert not plan.direct
    assert plan.parts == known["expect"]
    assert plan.flows == (Flow("A", "A", known["expect"]["A"]), Flow("A", "B", known["expect"]["B"]))


def test_one_victim_gets_everything_directly() -> None:
    plan = plan_return({"A": 700, "B": 300}, {"A": 1000, "B": 0})
    assert plan.direct and plan.parts == {"A": 1000}
    assert plan.flows == (Flow("A", "A", 700), Flow("B", "A", 300))


@pytest.mark.parametrize(
    ("held", "losses"),
    [
        ({"A": 1, "B": 1, "C": 1}, {"A": 1, "B": 1, "C": 1}),
        ({"A": 99_999, "C": 2}, {"A": 3, "B": 3, "C": 3}),
        ({"A": 10, "B": 0}, {"A": 7, "B": 13, "C": 1}),
    ],
)
def test_parts_and_flows_add_up_exactly(held: dict[str, int], losses: dict[str, int]) -> None:
    plan = plan_return(held, losses)
    total = sum(held.values())
    assert sum(plan.parts.values()) == total
    for case in held:
        assert sum(f.amount_minor for f in plan.flows if f.payer == case) == held[case]
    for case, part in plan.parts.items():
        assert sum(f.amount_minor for f in plan.flows if f.payee == case) == part
    assert all(f.amount_minor > 0 for f in plan.flows)


def test_nothing_to_return_is_refused() -> None:
    with pytest.raises(HoldRefused, match="nothing is held"):
        plan_return({"A": 0}, {"A": 5})
    with pytest.raises(HoldRefused, match="no victim"):
        plan_return({"A": 5}, {"A": 0})


# ---- what a statement may change where the case's hold has moved on (domain/settlement.py) -------


def _money(*, held: int = 100_000, releasing: int = 0):  # type: ignore[no-untyped-def]
    from stopay.domain.settlement import AccountMoney

    return AccountMoney(left_minor=100_000, held_minor=held, in_flight_minor=0, releasing_minor=releasing)


def _fresh(left: int = 100_000, freeze: int = 0, release: int = 0):  # type: ignore[no-untyped-def]
    from stopay.domain.trail import Step

    return Step(left_minor=left, freeze_minor=freeze, release_minor=release, onward=(), exits=(), sent={}, gaps={})


def test_a_statement_never_refreezes_beyond_a_formal_freeze_s_document() -> None:
    from stopay.domain.settlement import within_hold

    # The document froze ¥400 of ¥1,000; a fuller statement still shows ¥1,000 of the victim's money.
    kept = within_hold(_fresh(left=100_000), S.FROZEN, 40_000, _money(held=40_000))
    assert (kept.left_minor, kept.freeze_minor, kept.release_minor) == (40_000, 0, 0)
    # More held than the document names (a freeze answered late) is given back.
    over = within_hold(_fresh(left=100_000), S.FROZEN, 40_000, _money(held=70_000))
    assert (over.freeze_minor, over.release_minor) == (0, 30_000)


def test_a_statement_never_refreezes_what_an_objection_partly_upheld_gave_back() -> None:
    from stopay.domain.settlement import within_hold

    # ¥300 of ¥1,000 was released on the holder's objection; a later statement still shows ¥1,000.
    kept = within_hold(_fresh(left=100_000, freeze=30_000), S.STOPPED, None, _money(held=70_000), 70_000)
    assert (kept.left_minor, kept.freeze_minor, kept.release_minor) == (70_000, 0, 0)
    # A formal freeze later: the lower of its document and the limit.
    frozen = within_hold(_fresh(left=100_000), S.FROZEN, 90_000, _money(held=70_000), 70_000)
    assert (frozen.left_minor, frozen.freeze_minor, frozen.release_minor) == (70_000, 0, 0)


def test_a_statement_leaves_a_returning_hold_as_the_return_planned_it() -> None:
    from stopay.domain.settlement import within_hold

    # After a failed return payment, nothing is out: the money must stay held for the victims.
    after = within_hold(_fresh(left=100_000, freeze=0, release=0), S.RETURNING, None, _money(held=100_000))
    assert (after.left_minor, after.freeze_minor, after.release_minor) == (0, 0, 0)


@pytest.mark.parametrize("state", [S.RELEASED, S.LAPSED, S.RETURNED])
def test_an_ended_hold_gives_back_what_a_late_freeze_held(state: HoldState) -> None:
    from stopay.domain.settlement import within_hold

    late = within_hold(_fresh(left=100_000, freeze=5_000), state, None, _money(held=20_000, releasing=5_000))
    assert (late.left_minor, late.freeze_minor, late.release_minor) == (0, 0, 15_000)


def test_a_live_stop_is_left_to_the_attribution_rule() -> None:
    from stopay.domain.settlement import within_hold

    step = _fresh(left=100_000, freeze=30_000)
    assert within_hold(step, S.STOPPED, None, _money()) is step
    assert within_hold(step, None, None, _money()) is step


def test_a_major_case_stays_major_when_renewed() -> None:
    major = Hold(S.FROZEN, 1, 2, 1, True, False, 60_000, 0)
    step = formalize(major, POLICY, DOC, major=False)
    assert (step.major, step.period.months) == (True, POLICY.major_freeze_months)


def test_renewing_a_hold_that_holds_nothing_is_refused() -> None:
    with pytest.raises(HoldRefused, match="nothing is held"):
        renew(hold(held=0), POLICY)
    with pytest.raises(HoldRefused, match="nothing is held"):
        formalize(hold(held=0), POLICY, DOC, False)


async def test_the_database_refuses_a_hold_moving_back_or_counting_without_a_renewal(pool) -> None:
    import asyncpg

    from tests.integration.test_store import submit

    _, case_id = await submit(pool, ("ICBC", "6222020200009999999", 5000))
    await pool.execute(
        "INSERT INTO holds (case_id, bank_code, account_number, max_stops, expires_at)"
        " VALUES ($1, 'ICBC', '6222020200009999999', 2, now() + interval '48 hours')",
        case_id,
    )
    where = "WHERE case_id = $1"
    for change in (
        "expires_at = expires_at - interval '1 hour'",  # an expiry only moves on
        "stops = 2, state = 'lapsed', ended_at = now()",  # a stop counted without a renewal
        "freezes = 1",  # a formal freeze period without the move into one
        "max_stops = 5",  # the limit it started under
        "state = 'returning', document = '{}'",
    ):  # not a move the state machine has
        with pytest.raises(asyncpg.CheckViolationError):
            await pool.execute(f"UPDATE holds SET {change} {where}", case_id)
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(f"DELETE FROM holds {where}", case_id)
    await pool.execute(f"UPDATE holds SET stops = 2, expires_at = expires_at + interval '48 hours' {where}", case_id)
    assert await pool.fetchval(f"SELECT stops FROM holds {where}", case_id) == 2


def test_only_a_second_identity_approves_and_a_supervisor_when_roles_are_known() -> None:
    from stopay.domain.approvals import ApprovalRefused, check_approver, check_open

    check_approver("officer:O-1", "officer:S-7", None)  # no roles known: two identities are enough
    check_approver("stopay://officer/500106012345", "stopay://supervisor/cq-0007", "supervisor")
    with pytest.raises(ApprovalRefused) as same:
        check_approver("officer:O-1", "officer:O-1", None)
    assert same.value.reason == "SAME_APPROVER"
    with pytest.raises(ApprovalRefused) as same_supervisor:  # a supervisor does not approve their own request
        check_approver("stopay://supervisor/cq-0007", "stopay://supervisor/cq-0007", "supervisor")
    assert same_supervisor.value.reason == "SAME_APPROVER"
    with pytest.raises(ApprovalRefused) as same_person:  # one person's officer and supervisor certificates
        check_approver("stopay://officer/X-1", "stopay://supervisor/X-1", "supervisor")
    assert same_person.value.reason == "SAME_APPROVER"
    with pytest.raises(ApprovalRefused) as officer:
        check_approver("stopay://officer/500106012345", "stopay://officer/500106099999", "officer")
    assert officer.value.reason == "NOT_SUPERVISOR"
    check_open("requested", None)
    with pytest.raises(ApprovalRefused) as given:
        check_open("approved", "officer:S-7")
    assert given.value.reason == "APPROVAL_ALREADY_GIVEN"

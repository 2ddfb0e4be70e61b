"""The replay oracle (tests/replay.py) gives every known answer, on the shipped scenarios and on
small hand-made worlds whose answers are worked out by hand below.

Nothing here imports ``stopay``: the oracle is what the real attribution code is checked against.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bank_adapters.simulated.scenario import Check, CheckEntry, Scenario, load_scenario, parse_scenario
from tests.handmade import EXITS, acct, check, world  # noqa: F401
from tests.replay import Answer, largest_remainder, replay

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_DIRS = [ROOT / "stopay" / "examples", ROOT / "tests" / "data" / "scenarios"]
RULES = ["fifo", "lifo", "taint_first", "pro_rata", "libr"]


# ---- the known answers shipped with the project -------------------------------------------------


def _scenario_files() -> list[Path]:
    files = []
    for folder in SCENARIO_DIRS:
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") == "stopay-bank-network/1" and data.get("checks"):
                files.append(path)
    return files


def _file_checks() -> list[Any]:
    params = []
    for path in _scenario_files():
        scenario = load_scenario(path)
        for one_check in scenario.checks:
            params.append(pytest.param(scenario, one_check, id=f"{path.parent.name}/{path.stem}/{one_check.name}"))
    return params


def assert_known_answer(scenario: Scenario, check: Check) -> Answer:
    answer = replay(scenario, check)
    assert answer.held == {a: v for a, v in check.expect_held.items() if v}, check.name
    if check.expect_exited is not None:
        assert answer.exited == check.expect_exited, check.name
    return answer


def test_the_shipped_files_with_checks_are_found() -> None:
    names = {p.stem for p in _scenario_files()}
    assert {"rules-worked-example", "seed-chen", "seed-xue"} <= names
    assert "attribution-table" not in names  # not a scenario: skipped


@pytest.mark.parametrize(("scenario", "check"), _file_checks())
def test_oracle_gives_every_shipped_known_answer(scenario: Scenario, check: Check) -> None:
    assert_known_answer(scenario, check)


# ---- hand-made worlds -----------------------------------------------------------------------------
# Accounts are named by a short letter; "V", "V1", "V2" are victims, the rest mules. A move is
# (from, to, amount, txn_id): from None is a cash deposit, to one of the exit kinds is an exit.
# Moves happen in the listed order, all in the past.


def run_all(scenario: Scenario) -> None:
    for c in scenario.checks:
        assert_known_answer(scenario, c)


# Mules that start empty hold only the victim's money, so every rule gives the same answer there.


@pytest.mark.parametrize("rule", RULES)
def test_depth_cut_nothing_is_held_beyond_max_depth(rule: str) -> None:
    # V -1000-> A (L1); A -600-> B (L2); B -400-> C (L3); C -300-> D (L4).
    # max_depth 5: A keeps 400, B 200, C 100, D 300 (all of the 1000 accounted for).
    # max_depth 2: B's 400 to C would be L3 > 2, so it arrives as own; C and D hold nothing.
    #              A 400, B 200.
    # max_depth 1: A's 600 to B would be L2 > 1: only A's 400 is held.
    moves = [("V", "A", 1000, "T1"), ("A", "B", 600, "T2"), ("B", "C", 400, "T3"), ("C", "D", 300, "T4")]
    run_all(
        world(
            {"V": 5000, "A": 0, "B": 0, "C": 0, "D": 0},
            moves,
            [
                check("depth-5", rule, [["T1"]], {"A": 400, "B": 200, "C": 100, "D": 300}, exited=0),
                check("depth-2", rule, [["T1"]], {"A": 400, "B": 200}, exited=0, max_depth=2),
                check("depth-1", rule, [["T1"]], {"A": 400}, exited=0, max_depth=1),
            ],
        )
    )


@pytest.mark.parametrize("rule", RULES)
def test_depth_cut_also_stops_exits_beyond_max_depth(rule: str) -> None:
    # V -1000-> A; A -1000-> B (L2); B -1000-> ATM.
    # max_depth 2: 1000 exited. max_depth 1: B's money arrived as own, nothing traced exits.
    moves = [("V", "A", 1000, "T1"), ("A", "B", 1000, "T2"), ("B", "ATM", 1000, "T3")]
    run_all(
        world(
            {"V": 1000, "A": 0, "B": 0},
            moves,
            [
                check("depth-2", rule, [["T1"]], {}, exited=1000, max_depth=2),
                check("depth-1", rule, [["T1"]], {}, exited=0, max_depth=1),
            ],
        )
    )


@pytest.mark.parametrize("rule", RULES)
def test_min_amount_cut(rule: str) -> None:
    # min_amount 100. V -1000-> A (L1).
    # A -50-> B: traced 50 < 100: arrives as own, not followed (B holds nothing).
    # A -100-> C: traced 100, not less than 100: followed, C has L2 100.
    # B -50-> ATM: B's money is own: not exited.
    # C -30-> ATM: exits have no minimum: 30 exited; C keeps 70.
    # A keeps 1000 - 50 - 100 = 850.
    moves = [
        ("V", "A", 1000, "T1"),
        ("A", "B", 50, "T2"),
        ("A", "C", 100, "T3"),
        ("B", "ATM", 50, "T4"),
        ("C", "ATM", 30, "T5"),
    ]
    run_all(
        world(
            {"V": 1000, "A": 0, "B": 0, "C": 0},
            moves,
            [
                check("min-100", rule, [["T1"]], {"A": 850, "C": 70}, exited=30, min_amount=100),
                # min_amount 101: the 100 to C is cut as well; C's exit is then own money.
                check("min-101", rule, [["T1"]], {"A": 850}, exited=0, min_amount=101),
                # min_amount 0: B is followed too; its 50 all exits.
                check("min-0", rule, [["T1"]], {"A": 850, "C": 70}, exited=80, min_amount=0),
            ],
        )
    )


def test_cycle_a_b_a_counts_the_money_once() -> None:
    # fifo. V -1000-> A: A [L1 1000].
    # A -600-> B: B [L2 600]; A [L1 400].
    # B -400-> A: B [L2 200]; A [L1 400, L3 400].
    # A -500-> B: takes L1 400, L3 100 -> B [L2 200, L2 400, L4 100] = 700; A [L3 300].
    # max_depth 5: A 300, B 700: the victim's 1000, nothing counted twice.
    # max_depth 3: the last move's L3 100 would become L4 > 3: arrives as own.
    #              B traced 200 + 400 = 600 (balance 700); A 300. 100 lost to the depth cut.
    moves = [("V", "A", 1000, "T1"), ("A", "B", 600, "T2"), ("B", "A", 400, "T3"), ("A", "B", 500, "T4")]
    run_all(
        world(
            {"V": 1000, "A": 0, "B": 0},
            moves,
            [
                check("depth-5", "fifo", [["T1"]], {"A": 300, "B": 700}, exited=0),
                check("depth-3", "fifo", [["T1"]], {"A": 300, "B": 600}, exited=0, max_depth=3),
                # lifo: A -500-> B takes L3 400 then L1 100: B [L2 200, L4 400, L2 100]; same totals.
                check("lifo", "lifo", [["T1"]], {"A": 300, "B": 700}, exited=0),
            ],
        )
    )


def test_merge_two_paths_into_one_account() -> None:
    # fifo. V -1000-> A; A -400-> B; A -600-> C; B -300-> D; C -500-> D.
    # min_amount 0: D gets L3 300 and L3 500: both count, D holds 800; B 100, C 100.
    # min_amount 400: B -300-> D carries 300 < 400: arrives as own (the minimum is per
    #   transfer, not per account); C -500-> D is followed. D holds 500, B 100, C 100.
    moves = [
        ("V", "A", 1000, "T1"),
        ("A", "B", 400, "T2"),
        ("A", "C", 600, "T3"),
        ("B", "D", 300, "T4"),
        ("C", "D", 500, "T5"),
    ]
    run_all(
        world(
            {"V": 1000, "A": 0, "B": 0, "C": 0, "D": 0},
            moves,
            [
                check("min-0", "fifo", [["T1"]], {"B": 100, "C": 100, "D": 800}, exited=0),
                check("min-400", "fifo", [["T1"]], {"B": 100, "C": 100, "D": 500}, exited=0, min_amount=400),
            ],
        )
    )


def test_min_amount_is_applied_after_the_depth_cut() -> None:
    # max_depth 2, min_amount 100, fifo; the entry names T1 and T2.
    # V -1000-> B (L1); B -300-> A: L2 300 (300 >= 100, followed); V -50-> A (named: L1 50, a
    # victim payment has no minimum). A [L2 300, L1 50].
    # A -350-> C carries L2 300 and L1 50: at C they become own (L3 > 2) and L2 50; the traced
    # parts of the transfer are then 50 < 100, so all of it arrives as own. C holds nothing.
    # (Applying the minimum before the depth cut, to the 350 carried, would hold 50 at C.)
    # B keeps 700.
    moves = [("V", "B", 1000, "T1"), ("B", "A", 300, "T3"), ("V", "A", 50, "T2"), ("A", "C", 350, "T4")]
    run_all(
        world(
            {"V": 1050, "A": 0, "B": 0, "C": 0},
            moves,
            [
                check("fifo", "fifo", [["T1", "T2"]], {"B": 700}, exited=0, max_depth=2, min_amount=100),
            ],
        )
    )


def test_merge_of_two_levels_counts_both() -> None:
    # fifo. V -1000-> A; A -300-> D (L2); A -500-> B (L2); B -500-> D (L3).
    # D holds L2 300 + L3 500 = 800; A holds 200.
    moves = [("V", "A", 1000, "T1"), ("A", "D", 300, "T2"), ("A", "B", 500, "T3"), ("B", "D", 500, "T4")]
    run_all(
        world(
            {"V": 1000, "A": 0, "B": 0, "D": 0},
            moves,
            [
                check("fifo", "fifo", [["T1"]], {"A": 200, "D": 800}, exited=0),
                check("depth-2", "fifo", [["T1"]], {"A": 200, "D": 300}, exited=0, max_depth=2),
            ],
        )
    )


def test_libr_own_deposits_after_the_victims_do_not_refill() -> None:
    # V -1000-> A: A {L1 1000}. A -900-> ATM: no own money, L1 900 exits: A {L1 100}.
    # cash +5000 into A: {L1 100, own 5000}. A -3000-> B: libr takes own 3000 first.
    # A holds 100 (its lowest balance since the deposit), not 1000 and not its balance 2100.
    moves = [("V", "A", 1000, "T1"), ("A", "ATM", 900, "T2"), (None, "A", 5000, "C1"), ("A", "B", 3000, "T3")]
    run_all(
        world(
            {"V": 1000, "A": 0, "B": 0},
            moves,
            [
                check("libr", "libr", [["T1"]], {"A": 100}, exited=900),
                # pro_rata for contrast: A -3000-> B from {L1 100, own 5000} (total 5100):
                #   L1: 3000*100/5100 = 58 rem 4200; own: 3000*5000/5100 = 2941 rem 900;
                #   1 unit left over -> L1 (larger remainder): L1 59, own 2941.
                #   A keeps L1 41; B gets L2 59.
                check("pro_rata", "pro_rata", [["T1"]], {"A": 41, "B": 59}, exited=900),
                # fifo: the remaining L1 100 is the oldest money: it all goes to B.
                check("fifo", "fifo", [["T1"]], {"B": 100}, exited=900),
            ],
        )
    )


def test_libr_own_first_then_traced_pro_rata() -> None:
    # libr. V -1000-> A: A {L1 1000}. A -400-> B: no own money: B {L2 400}; A {L1 600}.
    # B -100-> A: B has no own money: A {L1 600, L3 100}. cash +100 into A: {L1 600, L3 100, own 100}.
    # A -500-> ATM: own 100 first, then 400 from L1 600 / L3 100 (in proportion, total 700):
    #   L1 400*600/700 = 342 rem 600; L3 400*100/700 = 57 rem 100; leftover 1 -> L1: 343 / 57.
    #   exited 400. A keeps L1 257 + L3 43 = 300 (its balance). B keeps L2 300.
    moves = [
        ("V", "A", 1000, "T1"),
        ("A", "B", 400, "T2"),
        ("B", "A", 100, "T3"),
        (None, "A", 100, "C1"),
        ("A", "ATM", 500, "T4"),
    ]
    run_all(
        world(
            {"V": 1000, "A": 0, "B": 0},
            moves,
            [
                check("libr", "libr", [["T1"]], {"A": 300, "B": 300}, exited=400),
            ],
        )
    )


def test_pro_rata_tie_goes_to_the_label_sorting_first() -> None:
    # A opening 1 own; V -1-> A: {own 1, L1 1}. A -1-> B under pro_rata: both remainders equal,
    # the unit goes to "L1" (< "own"): B gets L2 1, A keeps own 1. Under libr A's own goes.
    moves = [("V", "A", 1, "T1"), ("A", "B", 1, "T2")]
    run_all(
        world(
            {"V": 1, "A": 1, "B": 0},
            moves,
            [
                check("pro_rata", "pro_rata", [["T1"]], {"B": 1}, exited=0),
                check("libr", "libr", [["T1"]], {"A": 1}, exited=0),
            ],
        )
    )
    assert largest_remainder(1, {"own": 1, "L1": 1}) == {"own": 0, "L1": 1}
    assert largest_remainder(2, {"own": 1, "L1": 1, "L2": 1}) == {"own": 0, "L1": 1, "L2": 1}
    assert largest_remainder(10, {"own": 1, "L1": 2}) == {"own": 3, "L1": 7}  # 3.33 / 6.67


def test_two_entries_on_one_account_second_holds_only_what_is_left() -> None:
    # libr. A opening 300 own. V1 -1000-> A; V2 -500-> A; A -600-> ATM. Balance 1200.
    # Entry V1 alone: own = 300 + V2's 500 = 800, L1 1000; the 600 exit is own: claim 1000.
    # Entry V2 alone: own = 300 + V1's 1000 = 1300, L1 500; the exit is own: claim 500.
    # V1 then V2: V1 holds 1000, V2 min(500, 1200 - 1000) = 200. A holds 1200, its balance.
    # V2 then V1: V2 holds 500, V1 min(1000, 1200 - 500) = 700. Still 1200.
    moves = [("V1", "A", 1000, "T1"), ("V2", "A", 500, "T2"), ("A", "ATM", 600, "T3")]
    scenario = world(
        {"V1": 1000, "V2": 500, "A": 300},
        moves,
        [
            check("v1-then-v2", "libr", [["T1"], ["T2"]], {"A": 1200}, exited=0),
            check("v1-alone", "libr", [["T1"]], {"A": 1000}, exited=0),
            check("v2-alone", "libr", [["T2"]], {"A": 500}, exited=0),
        ],
    )
    run_all(scenario)
    # Same world, V1 and V2 on the fifo rule: their claims do not overlap (V1's 1000 is after the
    # opening 300 own; the exit takes own 300 + V1 300 for V1's entry, so V1 claims 700;
    # V2's entry: own 300 + own 1000 -> exit takes own 600, V2 keeps 500). 700 + 500 = 1200.
    run_all(
        world(
            {"V1": 1000, "V2": 500, "A": 300},
            moves,
            [
                check("fifo", "fifo", [["T1"], ["T2"]], {"A": 1200}, exited=300),
            ],
        )
    )


def test_two_entries_one_victim_named_twice_in_separate_entries() -> None:
    # Entries with the same payments: the second finds the room taken by the first.
    # V -1000-> A; A -400-> B. fifo: A 600, B 400 for the first entry; nothing left for the second.
    moves = [("V", "A", 1000, "T1"), ("A", "B", 400, "T2")]
    run_all(
        world(
            {"V": 1000, "A": 0, "B": 0},
            moves,
            [
                check("twice", "fifo", [["T1"], ["T1"]], {"A": 600, "B": 400}, exited=0),
            ],
        )
    )


def test_holds_never_exceed_balance_with_three_victims_on_libr() -> None:
    # libr. V1, V2, V3 each pay A 100; A -250-> ATM. Balance 50.
    # Each entry alone: own 200 (the two others), L1 100; the exit takes own 200 then L1 50:
    # each claims 50. First entry holds 50, the others find nothing left. exited 50 * 3 = 150.
    moves = [("V1", "A", 100, "T1"), ("V2", "A", 100, "T2"), ("V3", "A", 100, "T3"), ("A", "ATM", 250, "T4")]
    run_all(
        world(
            {"V1": 100, "V2": 100, "V3": 100, "A": 0},
            moves,
            [
                check("three", "libr", [["T1"], ["T2"], ["T3"]], {"A": 50}, exited=150),
            ],
        )
    )


def test_one_entry_with_several_payments_to_several_payees() -> None:
    # One entry, two payments: V -700-> A and V -300-> B; A -200-> B. lifo.
    # A [L1 700] -> sends L1 200: B [L1 300, L2 200] = 500. A 500.
    moves = [("V", "A", 700, "T1"), ("V", "B", 300, "T2"), ("A", "B", 200, "T3")]
    run_all(
        world(
            {"V": 1000, "A": 0, "B": 0},
            moves,
            [
                check("lifo", "lifo", [["T1", "T2"]], {"A": 500, "B": 500}, exited=0),
            ],
        )
    )


def test_victim_payment_is_level_1_whatever_the_payer_holds() -> None:
    # V receives traced money back from A before paying again: V -1000-> A; A -400-> V (L2 at V);
    # V -400-> A named: arrives as L1 400 regardless. fifo, entry names both payments.
    # V: [own 0... ] V's lots after the return: [L2 400] (V paid its whole 1000 first).
    # V -400-> A: the named payment: A [L1 600, L1 400] = 1000; V keeps nothing.
    moves = [("V", "A", 1000, "T1"), ("A", "V", 400, "T2"), ("V", "A", 400, "T3")]
    # With max_depth 2 the same holds: were the payment carried one level deeper as L3, it would
    # be cut to own and A would hold only 600.
    run_all(
        world(
            {"V": 1000, "A": 0},
            moves,
            [
                check("fifo", "fifo", [["T1", "T3"]], {"A": 1000}, exited=0),
                check("depth-2", "fifo", [["T1", "T3"]], {"A": 1000}, exited=0, max_depth=2),
            ],
        )
    )


def test_taint_first_takes_traced_money_oldest_first_then_own() -> None:
    # A opening 500 own. V -300-> A (L1). B opening 0; A -200-> B (L2 200); B -200-> A (L3 200).
    # A [own 500, L1 300]; A -200-> B takes traced first: L1 200: A [own 500, L1 100].
    # B -200-> A: A [own 500, L1 100, L3 200].
    # A -250-> C: traced oldest first: L1 100, L3 150: C [L2 100, L4 150]; A [own 500, L3 50].
    # Held: A 50, C 250. B nothing.
    moves = [("V", "A", 300, "T1"), ("A", "B", 200, "T2"), ("B", "A", 200, "T3"), ("A", "C", 250, "T4")]
    run_all(
        world(
            {"V": 300, "A": 500, "B": 0, "C": 0},
            moves,
            [
                check("taint_first", "taint_first", [["T1"]], {"A": 50, "C": 250}, exited=0),
                # depth 3: the L4 150 arrives at C as own: C holds 100.
                check("depth-3", "taint_first", [["T1"]], {"A": 50, "C": 100}, exited=0, max_depth=3),
            ],
        )
    )


# ---- the worked example of DOMAIN.md, victim B alone and both victims -----------------------------

WORKED = ROOT / "stopay" / "examples" / "rules-worked-example.json"
ICBC, ABC, CCB = "ICBC:6222020200000000777", "ABC:6228480000000000881", "CCB:6217000000000000882"


# Victim B (W-B, 50000) traced on its own: A's 100000 counts as M's own money. Where the rule
# does not depend on how non-B money is labelled (fifo, lifo, pro_rata) this is the B column of
# the two-victim table of DOMAIN.md; under taint_first and libr A's money is no longer traced
# and the answer differs from that table.
#   M = ICBC: own 20000, own(A) 100000, L1 50000, own 30000; -80000 to ABC; -60000 to CCB; +20000.
#   fifo:     ABC own 80000; CCB own 40000 + L1->L2 20000; M keeps L1 30000.
#   lifo:     ABC own 30000 + L2 50000; CCB own 60000; M keeps nothing of B.
#   pro_rata: {own 150000, L1 50000}: ABC L2 20000; {own 90000, L1 30000}: CCB L2 15000; M 15000.
#   taint_first: ABC L2 50000 (traced first) + own 30000; CCB own 60000.
#   libr:     both debits are own (150000 >= 140000): M keeps L1 50000.
@pytest.mark.parametrize(
    ("rule", "held"),
    [
        ("fifo", {ICBC: 30000, CCB: 20000}),
        ("lifo", {ABC: 50000}),
        ("pro_rata", {ICBC: 15000, ABC: 20000, CCB: 15000}),
        ("taint_first", {ABC: 50000}),
        ("libr", {ICBC: 50000}),
    ],
)
def test_worked_example_victim_b_alone(rule: str, held: dict[str, int]) -> None:
    c = make_check(rule, [["W-B"]], min_amount=100)
    assert replay(load_scenario(WORKED), c) == Answer(held=held, exited=0)


# Both victims, A first then B. M's balance at the end is 80000.
#   libr: A holds 60000 at M and 40000 at CCB; B alone would claim 50000 at M, but only
#         80000 - 60000 = 20000 is left there.
#   fifo: A 60000 at ABC, 40000 at CCB; B 30000 at M, 20000 at CCB (no overlap).
@pytest.mark.parametrize(
    ("rule", "held"),
    [
        ("libr", {ICBC: 80000, CCB: 40000}),
        ("fifo", {ICBC: 30000, ABC: 60000, CCB: 60000}),
    ],
)
def test_worked_example_both_victims(rule: str, held: dict[str, int]) -> None:
    c = make_check(rule, [["W-A"], ["W-B"]], min_amount=100)
    assert replay(load_scenario(WORKED), c) == Answer(held=held, exited=0)


def make_check(rule: str, entries: list[list[str]], max_depth: int = 5, min_amount: int = 0) -> Check:
    """A check built directly (its expectation is asserted by the caller)."""
    return Check(
        name=rule,
        rule=rule,
        max_depth=max_depth,
        min_amount=min_amount,
        entries=tuple(CheckEntry(victim=f"victim {i}", transfers=tuple(t)) for i, t in enumerate(entries)),
        expect_held={},
    )


# ---- moves still to come ---------------------------------------------------------------------------


def test_upto_at_replays_moves_still_to_come() -> None:
    # V -1000-> A in the past; A -600-> B at +30 (still to come).
    data = {
        "format": "stopay-bank-network/1",
        "name": "future",
        "currency": "CNY",
        "banks": [{"code": "BK", "name": "Bank"}],
        "accounts": [
            {"id": acct(n), "holder": n, "opening_balance": b} for n, b in {"V": 1000, "A": 0, "B": 0}.items()
        ],
        "ledger": [
            {"seq": 1, "at": -10, "from": acct("V"), "to": acct("A"), "amount": 1000, "txn_id": "T1"},
            {"seq": 2, "at": 30, "from": acct("A"), "to": acct("B"), "amount": 600, "txn_id": "T2"},
            # a later move asks for more than is there: it moves what is left (400).
            {"seq": 3, "at": 40, "from": acct("A"), "exit": "ATM", "amount": 900, "txn_id": "T3"},
        ],
        "checks": [check("now", "fifo", [["T1"]], {"A": 1000})],
    }
    scenario = parse_scenario(data)
    c = scenario.checks[0]
    assert replay(scenario, c) == Answer(held={acct("A"): 1000}, exited=0)
    assert replay(scenario, c, upto_at=29.9) == Answer(held={acct("A"): 1000}, exited=0)
    assert replay(scenario, c, upto_at=30) == Answer(held={acct("A"): 400, acct("B"): 600}, exited=0)
    assert replay(scenario, c, upto_at=40) == Answer(held={acct("B"): 600}, exited=400)


def test_poison_is_not_part_of_the_oracle() -> None:
    with pytest.raises(NotImplementedError):
        replay(load_scenario(WORKED), make_check("poison", [["W-A"]]))


def test_replay_is_quick_enough_for_many_scenarios() -> None:
    # 200 replays of a 120-event chain world, all five rules: well under a few seconds.
    import time

    names = [chr(ord("A") + i) for i in range(12)]
    moves: list[tuple[str | None, str, int, str]] = [("V", "A", 100000, "T0")]
    for i in range(119):
        src, dst = names[i % 12], names[(i + 1) % 12]
        moves.append((src, dst, 500 + i, f"T{i + 1}") if i % 7 else (None, src, 300, f"T{i + 1}"))
    opening = {"V": 100000, **{n: 10000 for n in names}}
    scenario = world(opening, moves, [check(r, r, [["T0"]], {}) for r in RULES])
    start = time.perf_counter()
    for _ in range(40):
        for c in scenario.checks:
            answer = replay(scenario, c)
            assert sum(answer.held.values()) <= 100000
    assert time.perf_counter() - start < 10

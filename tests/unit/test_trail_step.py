"""One step down the trail, as pure code: what to freeze, what to follow, what to give back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stopay.domain.entry import Party
from stopay.domain.trail import Known, Limits, Line, StatementTooShort, reconcile, step

T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
N1 = Party("ABC", "6228480000000881", "吴某")
N2 = Party("CCB", "6217000000000882", "郑某")


def line(seq: int, kind: str, amount: int, txn: str, to: Party | None = None, exit: str | None = None) -> Line:
    return Line(seq, T0 + timedelta(minutes=seq), kind, amount, txn, to, exit)


# The worked example: M holds 200 own, then A's 1000 (the victim, level 1), B's 500 and 300 own
# (both count as own here), pays N1 800 and N2 600, then gets 200 own.
LINES = (
    line(2, "credit", 1000, "W-A"),
    line(3, "credit", 500, "W-B"),
    line(4, "credit", 300, "W-OWN1"),
    line(5, "debit", 800, "W-N1", N1),
    line(6, "debit", 600, "W-N2", N2),
    line(7, "credit", 200, "W-OWN2"),
)
KNOWN = Known(labelled={"W-A": (("L1", 1000),)})


@pytest.mark.parametrize(
    ("rule", "left", "onward"),
    [
        ("libr", 600, {"W-N2": 400}),
        ("fifo", 0, {"W-N1": 600, "W-N2": 400}),
        ("lifo", 400, {"W-N2": 600}),
        ("taint_first", 0, {"W-N1": 800, "W-N2": 200}),
        ("pro_rata", 300, {"W-N1": 400, "W-N2": 300}),
    ],
)
def test_the_worked_example_level_by_level(rule: str, left: int, onward: dict[str, int]) -> None:
    # libr with B counted as own: own 1000 (200 + 500 + 300) is spent first on N1's 800; N2's 600
    # takes own 200 then A 400; A keeps 600. (rules-worked-example.json, victim-a-libr.)
    result = step(KNOWN, 200, LINES, Limits(rule, 5, 100))
    assert result.left_minor == left
    assert {o.txn_id: o.traced_minor for o in result.onward} == onward
    assert all(o.level == 2 and o.new_minor == o.traced_minor for o in result.onward)
    assert result.freeze_minor == left and result.release_minor == 0
    assert all(sum(a for _, a in o.parts) == o.amount_minor for o in result.onward)


def test_what_is_held_or_in_flight_is_not_asked_again_and_excess_is_given_back() -> None:
    known = Known(labelled=KNOWN.labelled, held_minor=500)
    assert step(known, 200, LINES, Limits("libr")).freeze_minor == 100  # 600 left, 500 held
    known = Known(labelled=KNOWN.labelled, held_minor=500, in_flight_minor=100)
    assert step(known, 200, LINES, Limits("libr")).freeze_minor == 0
    known = Known(labelled=KNOWN.labelled, held_minor=900)
    result = step(known, 200, LINES, Limits("libr"))
    assert (result.freeze_minor, result.release_minor) == (0, 300)


def test_reconcile() -> None:
    assert reconcile(600, 0, 0, 0) == (600, 0)
    assert reconcile(600, 400, 100, 0) == (100, 0)
    assert reconcile(300, 500, 0, 0) == (0, 200)
    assert reconcile(300, 500, 0, 200) == (0, 0)  # already being given back
    assert reconcile(300, 500, 100, 0) == (0, 0)  # wait for the freeze in flight
    assert reconcile(600, 600, 0, 0) == (0, 0)


def test_depth_and_min_amount_limit_what_is_followed() -> None:
    deep = Known(labelled={"W-A": (("L5", 1000),)})
    assert step(deep, 200, LINES, Limits("fifo", 5, 100)).onward == ()  # level 6 is past max_depth
    assert step(deep, 200, LINES, Limits("fifo", 5, 100)).left_minor == 0
    small = step(KNOWN, 200, LINES, Limits("fifo", 5, 500))
    assert {o.txn_id for o in small.onward} == {"W-N1"}  # W-N2 carries 400 < 500


def test_a_transfer_followed_before_goes_on_again_only_when_it_changed() -> None:
    first = step(KNOWN, 200, LINES, Limits("fifo", 5, 100))
    again = step(Known(labelled=KNOWN.labelled, sent=first.sent), 200, LINES, Limits("fifo", 5, 100))
    assert again.onward == ()
    more = Known(labelled={"W-A": (("L1", 1000),), "W-B": (("L2", 500),)}, sent=first.sent)
    changed = step(more, 200, LINES, Limits("fifo", 5, 100))
    assert {o.txn_id: (o.traced_minor, o.new_minor) for o in changed.onward} == {"W-N2": (600, 200)}


def test_exits_are_recorded_with_the_victims_money_in_them() -> None:
    lines = (line(1, "credit", 1000, "V"), line(2, "debit", 700, "X", exit="ATM"), line(3, "debit", 100, "Y"))
    result = step(Known(labelled={"V": (("L1", 1000),)}), 0, lines, Limits("fifo"))
    assert [(x.txn_id, x.kind, x.amount_minor) for x in result.exits] == [("X", "ATM", 700), ("Y", "UNKNOWN", 100)]
    assert result.left_minor == 200


def test_a_statement_that_starts_after_a_known_credit_is_refused() -> None:
    with pytest.raises(StatementTooShort, match="W-EARLIER"):
        step(Known(labelled={"W-EARLIER": (("L1", 10),), **KNOWN.labelled}), 200, LINES, Limits())


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="poison"):
        Limits("poison")
    with pytest.raises(ValueError):
        Limits(max_depth=0)
    with pytest.raises(ValueError):
        Limits(min_amount=-1)

"""The attribution rules: the known table from the domain brief, every rule and every number, and
properties over random statements: nothing is created or lost, nothing is negative."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stopay.domain.attribution import OWN, RULES, Credit, Debit, UnknownRule, attribute

TABLE = json.loads((Path(__file__).parents[1] / "data" / "attribution-table.json").read_text(encoding="utf-8"))


def table_events() -> list[Credit | Debit]:
    events: list[Credit | Debit] = []
    for line in TABLE["statement"]:
        if line["kind"] == "credit":
            events.append(Credit(str(line["seq"]), ((line["label"], line["amount"]),)))
        else:
            events.append(Debit(line["to"], line["amount"]))
    return events


@pytest.mark.parametrize("rule", sorted(TABLE["expect"]))
def test_the_worked_table_every_rule_every_number(rule: str) -> None:
    result = attribute(rule, 0, table_events())
    expect = TABLE["expect"][rule]
    assert {to: dict(parts) for to, parts in result.flows.items()} == expect["flows"]
    assert result.left == expect["left"]
    assert result.gaps == {}


def test_every_rule_of_the_engine_is_in_the_table() -> None:
    assert set(RULES) == set(TABLE["expect"])


def test_parts_keep_the_order_they_left_in() -> None:
    fifo = attribute("fifo", 0, table_events())
    assert fifo.flows["N1"] == (("own", 200), ("A", 600))
    lifo = attribute("lifo", 0, table_events())
    assert lifo.flows["N1"] == (("own", 300), ("B", 500))
    # At a receiver, FIFO takes the first part of a credit before its second.
    onward = attribute("fifo", 0, [Credit("t", fifo.flows["N1"]), Debit("x", 300)])
    assert onward.flows["x"] == (("own", 200), ("A", 100))
    onward_lifo = attribute("lifo", 0, [Credit("t", lifo.flows["N1"]), Debit("x", 600)])
    assert onward_lifo.flows["x"] == (("B", 500), ("own", 100))


def test_libr_later_own_deposits_never_refill_the_victim() -> None:
    events = [Credit("v", (("V", 1000),)), Debit("d1", 900), Credit("o", ((OWN, 5000),)), Debit("d2", 100)]
    result = attribute("libr", 0, events)
    assert result.flows["d1"] == (("V", 900),)
    assert result.flows["d2"] == ((OWN, 100),)
    assert result.left == {"V": 100, OWN: 4900}


def test_a_debit_larger_than_the_balance_is_a_gap_not_a_crash() -> None:
    result = attribute("fifo", 100, [Credit("v", (("V", 50),)), Debit("d", 400)])
    assert result.flows["d"] == ((OWN, 100), ("V", 50))
    assert result.gaps == {"d": 250}
    assert result.left == {}


def test_unknown_rule_and_negative_input_are_refused() -> None:
    with pytest.raises(UnknownRule, match="poisson"):
        attribute("poisson", 0, [])
    with pytest.raises(ValueError):
        attribute("fifo", -1, [])
    with pytest.raises(ValueError):
        attribute("fifo", 0, [Debit("d", -5)])


labels = st.sampled_from([OWN, "A", "B", "L2"])
credits = st.builds(
    Credit, st.just("c"), st.lists(st.tuples(labels, st.integers(0, 10**9)), min_size=1, max_size=3).map(tuple)
)
debits = st.builds(Debit, st.just("d"), st.integers(0, 2 * 10**9))


@settings(max_examples=300, deadline=None)
@given(
    rule=st.sampled_from(RULES), opening=st.integers(0, 10**9), events=st.lists(st.one_of(credits, debits), max_size=25)
)
def test_nothing_is_created_or_lost(rule: str, opening: int, events: list[Credit | Debit]) -> None:
    keyed = [
        type(e)(f"{i}", e.parts) if isinstance(e, Credit) else Debit(f"{i}", e.amount) for i, e in enumerate(events)
    ]
    result = attribute(rule, opening, keyed)
    received: dict[str, int] = {OWN: opening}
    for event in keyed:
        if isinstance(event, Credit):
            for label, amount in event.parts:
                received[label] = received.get(label, 0) + amount
    carried: dict[str, int] = {}
    balance = opening
    for event in keyed:
        if isinstance(event, Credit):
            balance += sum(a for _, a in event.parts)
            continue
        parts = result.flows[event.key]
        assert all(amount > 0 for _, amount in parts)
        moved = sum(a for _, a in parts)
        assert moved == min(event.amount, balance)  # never more than the balance
        assert result.gaps.get(event.key, 0) == event.amount - moved
        balance -= moved
        for label, amount in parts:
            carried[label] = carried.get(label, 0) + amount
    assert all(v > 0 for v in result.left.values())
    for label, amount in received.items():
        assert carried.get(label, 0) + result.left.get(label, 0) == amount, label
    assert sum(result.left.values()) == balance

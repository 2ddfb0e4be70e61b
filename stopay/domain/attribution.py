"""Whose money is in an account, and where did it go: the attribution rules as one pure function.

An account's history is a sequence of credits and debits. Each credit carries labelled parts (the
label ``own`` for the holder's money, any other label for money being traced, such as a victim's);
the parts of one credit are listed in the order they left the sending account. :func:`attribute`
replays the history under a rule and says which labels each debit carried, in the order they left,
and what is left of each label. Arithmetic is exact in integer minor units; where a rule splits an
amount, the largest-remainder method makes the parts add up to the whole (ties to the label that
sorts first).

Rules (see docs/tracing.md):

* ``fifo``: money leaves in the order it came in (Clayton's case).
* ``lifo``: the newest money leaves first.
* ``pro_rata``: each debit takes every label in proportion to its balance.
* ``libr``: the holder spends their own money first; traced labels share the rest pro rata. Later
  own deposits never refill a traced label, so a claim never exceeds the lowest balance since the
  deposit (Re Hallett, lowest intermediate balance).
* ``taint_first``: traced money leaves first, oldest first; own money only after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from stopay.domain.money import split_largest_remainder

OWN = "own"
RULES = ("fifo", "lifo", "pro_rata", "libr", "taint_first")

Parts = tuple[tuple[str, int], ...]


def parts_from_json(raw: Iterable[Iterable[object]]) -> Parts:
    """Labelled parts as the trail keeps them in JSON (``[[name, amount], ...]``)."""
    return tuple((str(name), int(str(amount))) for name, amount in raw)


class UnknownRule(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Credit:
    key: str
    parts: Parts


@dataclass(frozen=True, slots=True)
class Debit:
    key: str
    amount: int


@dataclass(frozen=True, slots=True)
class Attribution:
    # debit key -> the labelled parts it carried, in the order they left
    flows: dict[str, Parts]
    # label -> amount left in the account (labels with nothing left are absent)
    left: dict[str, int]
    # debit key -> how much the debit exceeded the balance known (a data gap, not an error)
    gaps: dict[str, int] = field(default_factory=dict)


def _merge_adjacent(parts: list[tuple[str, int]]) -> Parts:
    merged: list[tuple[str, int]] = []
    for label, amount in parts:
        if amount <= 0:
            continue
        if merged and merged[-1][0] == label:
            merged[-1] = (label, merged[-1][1] + amount)
        else:
            merged.append((label, amount))
    return tuple(merged)


@dataclass(slots=True)
class _Lot:
    label: str
    amount: int


class _Lots:
    """Money as lots in arrival order, for the rules where the order of arrival decides."""

    def __init__(self, rule: str) -> None:
        self.rule = rule
        self.lots: list[_Lot] = []  # oldest first

    def credit(self, parts: Parts) -> None:
        self.lots.extend(_Lot(label, amount) for label, amount in parts if amount > 0)

    def balance(self) -> int:
        return sum(lot.amount for lot in self.lots)

    def _order(self) -> list[_Lot]:
        if self.rule == "fifo":
            return list(self.lots)
        if self.rule == "lifo":
            return list(reversed(self.lots))
        return [lot for lot in self.lots if lot.label != OWN] + [lot for lot in self.lots if lot.label == OWN]

    def debit(self, amount: int) -> list[tuple[str, int]]:
        taken: list[tuple[str, int]] = []
        for lot in self._order():
            if amount == 0:
                break
            take = min(amount, lot.amount)
            lot.amount -= take
            amount -= take
            taken.append((lot.label, take))
        self.lots = [lot for lot in self.lots if lot.amount > 0]
        return taken

    def left(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for lot in self.lots:
            totals[lot.label] = totals.get(lot.label, 0) + lot.amount
        return totals


class _Pools:
    """Money as one balance per label, for the rules that split each debit across labels."""

    def __init__(self, rule: str) -> None:
        self.rule = rule
        self.totals: dict[str, int] = {}  # label -> balance, in order of first arrival

    def credit(self, parts: Parts) -> None:
        for label, amount in parts:
            if amount > 0:
                self.totals[label] = self.totals.get(label, 0) + amount

    def balance(self) -> int:
        return sum(self.totals.values())

    def _split(self, amount: int, labels: list[str]) -> list[tuple[str, int]]:
        weights = {label: self.totals[label] for label in labels if self.totals[label] > 0}
        if amount == 0 or not weights:
            return []
        shares = split_largest_remainder(amount, weights)
        return [(label, shares[label]) for label in weights]

    def debit(self, amount: int) -> list[tuple[str, int]]:
        if self.rule == "pro_rata":
            taken = self._split(amount, list(self.totals))
        else:  # libr: own first, then the traced labels pro rata
            own = min(amount, self.totals.get(OWN, 0))
            traced = [label for label in self.totals if label != OWN]
            taken = ([(OWN, own)] if own else []) + self._split(amount - own, traced)
        for label, take in taken:
            self.totals[label] -= take
        return taken

    def left(self) -> dict[str, int]:
        return dict(self.totals)


def attribute(rule: str, opening_own: int, events: Iterable[Credit | Debit]) -> Attribution:
    """Replays ``events`` (in order) on an account that held ``opening_own`` of its holder's money."""
    if rule not in RULES:
        raise UnknownRule(f"unknown attribution rule {rule!r}; known: {', '.join(RULES)}")
    if opening_own < 0:
        raise ValueError("opening balance must not be negative")
    book: _Lots | _Pools = _Pools(rule) if rule in ("pro_rata", "libr") else _Lots(rule)
    book.credit(((OWN, opening_own),))
    flows: dict[str, Parts] = {}
    gaps: dict[str, int] = {}
    for event in events:
        if isinstance(event, Credit):
            if any(amount < 0 for _, amount in event.parts):
                raise ValueError(f"credit {event.key}: negative part")
            book.credit(event.parts)
            continue
        if event.amount < 0:
            raise ValueError(f"debit {event.key}: negative amount")
        available = book.balance()
        if event.amount > available:
            gaps[event.key] = event.amount - available
        flows[event.key] = _merge_adjacent(book.debit(min(event.amount, available)))
    left = {label: amount for label, amount in book.left().items() if amount > 0}
    return Attribution(flows=flows, left=left, gaps=gaps)

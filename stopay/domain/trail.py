"""One step down the money trail: from what stopay knows of an account and the bank's statement,
how much of the victim's money is still there, how much more to freeze, and where the rest went.

Traced money carries its level as a label: ``L1`` is the victim's money at the account the victim
paid, ``L2`` one transfer further, and so on (``own`` is everybody else's). Each step replays the
account's statement under the case's attribution rule with the credits stopay knows to carry the
victim's money labelled, then:

* the victim's money left there, less what is already held or being frozen for the case, is what
  to freeze now (so an account reached along two paths, or again through a cycle, is never asked
  to hold the same money twice); when a later, fuller view shows less of it than the case holds
  there (a transfer found to carry money past ``max_depth``, say), the excess is given back;
* each debit that carried the victim's money to another account goes on as a transfer to follow,
  one level deeper, unless it would go deeper than ``max_depth`` or carries less than
  ``min_amount`` of it; a transfer already followed goes on again only when what it carries changed;
* each debit into an exit (cash, ATM, crypto, ...) records the victim's money lost there; a fuller
  view corrects what a partial one recorded, down to nothing (the exit is then withdrawn);
* each debit into an account the victim paid from (a fake "profit withdrawal") brings the victim's
  money in it back with the victim: the trail ends there, as at an exit of kind
  ``BACK_WITH_VICTIM``, and the victim's own account is never followed or frozen;
* one statement opens at most ``max_fanout`` orders, and a case at most ``max_orders`` in all: the
  transfers beyond are not followed (the largest amounts of the victim's money go first), and what
  they carry stays unresolved on the case (``Step.unfollowed``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from stopay.domain.accounts import AccountKey
from stopay.domain.attribution import OWN, RULES, Credit, Debit, Parts, attribute
from stopay.domain.entry import Party

# Deepest level a case may follow (the database enforces the same bound).
MAX_DEPTH = 50
# Default bounds on the orders a case opens: in all, and from one statement (one account's answer).
MAX_ORDERS = 2000
MAX_FANOUT = 200

# The kind of the trail's end where money comes back to an account the victim paid from. It is
# recorded beside the exits, but counted as its own figure (back with the victim), never as exited.
BACK_WITH_VICTIM = "BACK_WITH_VICTIM"


@dataclass(frozen=True, slots=True)
class Limits:
    rule: str = "libr"
    max_depth: int = 5
    min_amount: int = 10000
    # Freeze orders one case may open in all (level 1 included), and next-level orders one statement
    # may open. Unlike the three above, these are the serving process's, not kept on the case.
    max_orders: int = MAX_ORDERS
    max_fanout: int = MAX_FANOUT

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"unknown attribution rule {self.rule!r}; known: {', '.join(RULES)}")
        if not 1 <= self.max_depth <= MAX_DEPTH:
            raise ValueError(f"max_depth must be between 1 and {MAX_DEPTH}")
        if self.min_amount < 0:
            raise ValueError("min_amount must not be negative")
        if self.max_orders < 1:
            raise ValueError("max_orders must be at least 1")
        if self.max_fanout < 1:
            raise ValueError("max_fanout must be at least 1")


def label(level: int) -> str:
    return f"L{level}"


def level_of(name: str) -> int | None:
    return int(name[1:]) if name.startswith("L") and name[1:].isdigit() else None


def traced(parts: Parts) -> int:
    return sum(amount for name, amount in parts if name != OWN)


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a bank statement."""

    seq: int
    at: datetime
    kind: str  # "credit" | "debit"
    amount_minor: int
    txn_id: str
    counterparty: Party | None = None
    exit: str | None = None


@dataclass(frozen=True, slots=True)
class Known:
    """What stopay knows of one account in one case before this step."""

    # txn_id -> parts of each credit known to carry the victim's money (own parts included)
    labelled: Mapping[str, Parts] = field(default_factory=dict)
    # debit txn_id -> parts already sent on to the receiving account
    sent: Mapping[str, Parts] = field(default_factory=dict)
    # exit debit txn_id -> the victim's money recorded leaving the network there (or, for a debit to
    # an account the victim paid from, back with the victim)
    exited: Mapping[str, int] = field(default_factory=dict)
    held_minor: int = 0
    in_flight_minor: int = 0
    releasing_minor: int = 0


def reconcile(left_minor: int, held_minor: int, in_flight_minor: int, releasing_minor: int) -> tuple[int, int]:
    """``(freeze, release)``: what to freeze, or to give back, so that what the case holds at an
    account comes to the victim's money left there. A release waits until no freeze is in flight
    (its answer could change what is held)."""
    committed = held_minor + in_flight_minor - releasing_minor
    if left_minor > committed:
        return left_minor - committed, 0
    if left_minor < committed and in_flight_minor == 0:
        return 0, committed - left_minor
    return 0, 0


@dataclass(frozen=True, slots=True)
class Onward:
    """A transfer that carried the victim's money to another account, to follow there."""

    account: Party
    txn_id: str
    at: datetime
    amount_minor: int  # the whole transfer, as the next bank verifies it
    parts: Parts  # at the receiver's levels
    traced_minor: int  # the victim's money in it
    new_minor: int  # how much more of it than was followed before
    level: int  # the shallowest level of the victim's money in it


@dataclass(frozen=True, slots=True)
class ExitFlow:
    txn_id: str
    kind: str
    at: datetime
    amount_minor: int  # the victim's money that left the network there; 0: none after all (withdrawn)


@dataclass(frozen=True, slots=True)
class Step:
    left_minor: int  # the victim's money still at the account
    freeze_minor: int  # what to freeze now
    release_minor: int  # what the case holds there in excess, to give back now
    onward: tuple[Onward, ...]
    exits: tuple[ExitFlow, ...]
    sent: dict[str, Parts]
    gaps: dict[str, int]
    # Transfers to follow that a limit left unfollowed (their money stays unresolved), and which
    # limit: "fanout" (max_fanout) or "orders" (max_orders, the case's room).
    unfollowed: tuple[Onward, ...] = ()
    limit: str = ""

    @property
    def unfollowed_minor(self) -> int:
        """The victim's money the unfollowed transfers carried on (beyond what was followed before)."""
        return sum(o.new_minor for o in self.unfollowed)


class StatementTooShort(ValueError):
    """The statement starts after a credit known to carry the victim's money; ask again."""


def _deeper(parts: Parts, limits: Limits) -> Parts:
    """Parts as they arrive one transfer further: levels go up; money past max_depth, or a transfer
    carrying less than min_amount of the victim's money, is no longer followed (counts as own)."""
    moved = []
    for name, amount in parts:
        level = level_of(name)
        followed = level is not None and level + 1 <= limits.max_depth
        moved.append((label(level + 1) if level is not None and followed else OWN, amount))
    if traced(tuple(moved)) < limits.min_amount:
        moved = [(OWN, amount) for _, amount in moved]
    merged: list[tuple[str, int]] = []
    for name, amount in moved:
        if merged and merged[-1][0] == name:
            merged[-1] = (name, merged[-1][1] + amount)
        else:
            merged.append((name, amount))
    return tuple(merged)


def _credit_parts(line: Line, known: Parts | None) -> Parts:
    if known is None:
        return ((OWN, line.amount_minor),)
    # Trust the statement's amount: traced parts up to it, the rest (if any) is own.
    parts, room = [], line.amount_minor
    for name, amount in known:
        take = min(amount, room)
        if take:
            parts.append((name, take))
            room -= take
    if room:
        parts.append((OWN, room))
    return tuple(parts)


def back_with_victim(account: Party | None, victim: frozenset[AccountKey]) -> bool:
    """Whether money paid to ``account`` is back with the victim: it is one of the accounts the
    victim paid from (the payers of the case's entry transfers)."""
    return account is not None and account.key in victim


def cap_onward(
    onward: list[Onward], known_sent: Mapping[str, Parts], limits: Limits, room: int | None
) -> tuple[list[Onward], list[Onward], str]:
    """``(followed, unfollowed, limit)``: at most ``max_fanout`` transfers, and at most ``room``
    (the orders the case may still open). Transfers followed before go first (their receivers must
    learn what changed), then the largest amounts of the victim's money; the statement's order is
    kept among those followed."""
    cap = limits.max_fanout if room is None else max(0, min(limits.max_fanout, room))
    if len(onward) <= cap:
        return onward, [], ""
    limit = "fanout" if cap == limits.max_fanout else "orders"
    ranked = sorted(range(len(onward)), key=lambda i: (onward[i].txn_id not in known_sent, -onward[i].new_minor, i))
    keep = set(ranked[:cap])
    return ([o for i, o in enumerate(onward) if i in keep], [o for i, o in enumerate(onward) if i not in keep], limit)


def step(
    known: Known,
    opening_minor: int,
    lines: tuple[Line, ...],
    limits: Limits,
    victim: frozenset[AccountKey] = frozenset(),
    room: int | None = None,
) -> Step:
    """One step at an account; ``victim`` are the accounts the victim paid from, ``room`` the
    freeze orders the case may still open (None: no case-wide bound)."""
    credits = {line.txn_id for line in lines if line.kind == "credit"}
    missing = sorted(set(known.labelled) - credits)
    if missing:
        raise StatementTooShort(f"statement lacks credits {', '.join(missing)}")
    events: list[Credit | Debit] = []
    for line in lines:
        if line.kind == "credit":
            events.append(Credit(line.txn_id, _credit_parts(line, known.labelled.get(line.txn_id))))
        else:
            events.append(Debit(line.txn_id, line.amount_minor))
    result = attribute(limits.rule, opening_minor, events)
    left = sum(amount for name, amount in result.left.items() if name != OWN)

    onward, exits, sent = [], [], dict(known.sent)
    for line in lines:
        if line.kind != "debit":
            continue
        carried = result.flows.get(line.txn_id, ())
        home = line.exit is None and back_with_victim(line.counterparty, victim)
        if line.exit is not None or line.counterparty is None or home:
            # Recorded as this view shows it (the newest knows best), and withdrawn (amount 0) when
            # a fuller view shows that none of the victim's money left there after all.
            if traced(carried) or line.txn_id in known.exited:
                kind = BACK_WITH_VICTIM if home else line.exit or "UNKNOWN"
                exits.append(ExitFlow(line.txn_id, kind, line.at, traced(carried)))
            continue
        arriving = _deeper(carried, limits)
        now = traced(arriving)
        previous = known.sent.get(line.txn_id)
        if arriving == previous or (now == 0 and previous is None):
            continue
        # New, or changed: the receiver must learn it, even when a fuller view shows the transfer
        # carried none of the victim's money within the limits (it then gives back what it froze).
        sent[line.txn_id] = arriving
        before = traced(previous or ())
        levels = [lv for name, _ in arriving + (previous or ()) if (lv := level_of(name)) is not None]
        onward.append(
            Onward(
                account=line.counterparty,
                txn_id=line.txn_id,
                at=line.at,
                amount_minor=line.amount_minor,
                parts=arriving,
                traced_minor=now,
                new_minor=max(0, now - before),
                level=min(levels),
            )
        )
    onward, unfollowed, limit = cap_onward(onward, known.sent, limits, room)
    for skipped in unfollowed:  # not sent on: a later statement may follow it, within the limits
        if skipped.txn_id in known.sent:
            sent[skipped.txn_id] = known.sent[skipped.txn_id]
        else:
            del sent[skipped.txn_id]
    freeze, release = reconcile(left, known.held_minor, known.in_flight_minor, known.releasing_minor)
    return Step(left, freeze, release, tuple(onward), tuple(exits), sent, result.gaps, tuple(unfollowed), limit)

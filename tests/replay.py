"""Test oracle: the known answer of a scenario check, by a plain replay of the whole ledger.

This is an independent, deliberately naive implementation of "What a known answer means"
(tests/data/scenarios/FORMAT.md). It must not import anything from ``stopay``: it is what the real
attribution code is checked against.

For one entry, every account keeps its money with labels: ``"own"`` (the holder's, which includes
the money of every other payer, other reporting victims too) and ``"L1"``, ``"L2"``, ... (this
victim's money and the level it is at). The victim's named payments arrive at their payee as
``("L1", amount)``; any other transfer carries the parts its debit takes by the rule, one level
deeper at the receiver, unless it goes deeper than ``max_depth`` or carries less than
``min_amount`` of traced money (then it arrives as own). A transfer to an account the victim paid
from (the payer of one of the entry's named payments) brings the victim's money in it back with
the victim: it is counted apart and arrives there as own, so it is never held or followed. Entries
are processed in order and each account holds ``min(victim's money left there, balance less holds
of earlier entries)``.

Money is kept as

* a list of lots ``[label, amount]``, oldest first, for fifo / lifo / taint_first;
* a dict ``{label: amount}`` for pro_rata / libr.

A debit returns the parts it carries as a list of ``[label, amount]`` in the order they left.
"""

from __future__ import annotations

from dataclasses import dataclass

from bank_adapters.simulated.scenario import Check, CheckEntry, Scenario

OWN = "own"
LOT_RULES = ("fifo", "lifo", "taint_first")
POOL_RULES = ("pro_rata", "libr")


@dataclass(frozen=True)
class Answer:
    held: dict[str, int]  # account id -> amount held; only non-zero holds are listed
    exited: int  # the victims' money traced into exits, all entries together
    back_with_victim: int = 0  # the victims' money paid back to an account its victim paid from


def replay(scenario: Scenario, check: Check, *, upto_at: float = 0) -> Answer:
    """The holds and exited total of ``check`` after the ledger events with ``at <= upto_at``."""
    if check.rule not in LOT_RULES + POOL_RULES:
        raise NotImplementedError(f"the oracle does not know the rule {check.rule!r}")
    held: dict[str, int] = {}
    exited = back = 0
    for entry in check.entries:
        books, entry_exited, entry_back = trace_entry(scenario, check, entry, upto_at=upto_at)
        exited += entry_exited
        back += entry_back
        for account in scenario.accounts:
            book = books[account.id]
            room = book.balance() - held.get(account.id, 0)
            hold = min(book.traced(), room)
            if hold > 0:
                held[account.id] = held.get(account.id, 0) + hold
    return Answer(held=held, exited=exited, back_with_victim=back)


def trace_entry(
    scenario: Scenario, check: Check, entry: CheckEntry, *, upto_at: float = 0
) -> tuple[dict[str, LotAccount | PoolAccount], int, int]:
    """Replay the ledger for one entry; returns every account's labelled money, the exited total and
    the money back with the victim."""
    named = set(entry.transfers)
    # The accounts the victim paid from, by the ledger's payer of each named payment.
    victim_accounts = {event.from_account for event in scenario.ledger if event.txn_id in named}
    books: dict[str, LotAccount | PoolAccount] = {}
    for account in scenario.accounts:
        books[account.id] = LotAccount(check.rule) if check.rule in LOT_RULES else PoolAccount(check.rule)
        books[account.id].credit([[OWN, account.opening_balance]])

    exited = back = 0
    for event in scenario.ledger:  # already in (at, seq) order
        if event.at > upto_at:
            break

        if event.from_account is None:
            # Money from outside the network: the holder's own.
            arriving = [[OWN, event.amount]]
        else:
            leaving = books[event.from_account].debit(event.amount)
            moved = sum(amount for _, amount in leaving)
            if event.txn_id in named:
                # The victim's payment: level-1 money of the victim, whatever the payer's labels.
                arriving = [["L1", moved]]
            elif event.exit is not None:
                # Money leaving the network: count the victim's parts, no depth or minimum cut.
                exited += traced_sum(leaving)
                continue
            elif event.to_account in victim_accounts:
                # Paid back to the victim: the victim's parts are back, no depth or minimum cut;
                # in the victim's account it is the victim's own money again.
                back += traced_sum(leaving)
                arriving = [[OWN, moved]]
            else:
                arriving = one_level_deeper(leaving, check.max_depth, check.min_amount)

        if event.to_account is None:
            # A named victim payment straight into an exit (the only way to get here).
            exited += traced_sum(arriving)
            continue
        books[event.to_account].credit(arriving)

    return books, exited, back


def one_level_deeper(parts: list[list], max_depth: int, min_amount: int) -> list[list]:
    """The parts of an ordinary transfer as they arrive at the receiver."""
    arriving = []
    for label, amount in parts:
        if label != OWN:
            level = int(label[1:]) + 1
            label = f"L{level}" if level <= max_depth else OWN
        arriving.append([label, amount])
    if traced_sum(arriving) < min_amount:
        arriving = [[OWN, amount] for _, amount in arriving]
    return merge_adjacent(arriving)


def traced_sum(parts: list[list]) -> int:
    return sum(amount for label, amount in parts if label != OWN)


def merge_adjacent(parts: list[list]) -> list[list]:
    merged: list[list] = []
    for label, amount in parts:
        if amount == 0:
            continue
        if merged and merged[-1][0] == label:
            merged[-1][1] += amount
        else:
            merged.append([label, amount])
    return merged


def largest_remainder(total: int, weights: dict[str, int]) -> dict[str, int]:
    """Split ``total`` in proportion to ``weights`` in integers; ties go to the label sorting first."""
    weight_sum = sum(weights.values())
    if total == 0 or weight_sum == 0:
        return {label: 0 for label in weights}
    shares = {label: total * weight // weight_sum for label, weight in weights.items()}
    remainders = {label: total * weight % weight_sum for label, weight in weights.items()}
    leftover = total - sum(shares.values())
    for label in sorted(weights, key=lambda label: (-remainders[label], label))[:leftover]:
        shares[label] += 1
    return shares


class LotAccount:
    """fifo / lifo / taint_first: money as lots in the order it arrived."""

    def __init__(self, rule: str) -> None:
        self.rule = rule
        self.lots: list[list] = []  # [label, amount], oldest first

    def balance(self) -> int:
        return sum(amount for _, amount in self.lots)

    def traced(self) -> int:
        return traced_sum(self.lots)

    def credit(self, parts: list[list]) -> None:
        for label, amount in parts:  # the first part is the oldest
            if amount > 0:
                self.lots.append([label, amount])

    def debit(self, amount: int) -> list[list]:
        wanted = min(amount, self.balance())
        if self.rule == "fifo":
            order = list(self.lots)
        elif self.rule == "lifo":
            order = list(reversed(self.lots))
        else:  # taint_first
            order = [lot for lot in self.lots if lot[0] != OWN] + [lot for lot in self.lots if lot[0] == OWN]
        leaving = []
        for lot in order:
            if wanted == 0:
                break
            take = min(wanted, lot[1])
            lot[1] -= take
            wanted -= take
            leaving.append([lot[0], take])
        self.lots = [lot for lot in self.lots if lot[1] > 0]
        return merge_adjacent(leaving)


class PoolAccount:
    """pro_rata / libr: money as a balance per label."""

    def __init__(self, rule: str) -> None:
        self.rule = rule
        self.pool: dict[str, int] = {}

    def balance(self) -> int:
        return sum(self.pool.values())

    def traced(self) -> int:
        return sum(amount for label, amount in self.pool.items() if label != OWN)

    def credit(self, parts: list[list]) -> None:
        for label, amount in parts:
            self.pool[label] = self.pool.get(label, 0) + amount

    def debit(self, amount: int) -> list[list]:
        wanted = min(amount, self.balance())
        if self.rule == "pro_rata":
            taken = largest_remainder(wanted, self.pool)
        else:  # libr: own money first, the rest from the traced labels pro rata
            own_taken = min(wanted, self.pool.get(OWN, 0))
            traced = {label: amt for label, amt in self.pool.items() if label != OWN}
            taken = largest_remainder(wanted - own_taken, traced)
            taken[OWN] = own_taken
        for label, amt in taken.items():
            self.pool[label] -= amt
        labels = ([OWN] if OWN in taken else []) + sorted(label for label in taken if label != OWN)
        return [[label, taken[label]] for label in labels if taken[label] > 0]

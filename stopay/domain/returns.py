"""Who gets the money held on an account back, and from which case's hold it is paid.

Every case that holds on an account, and every case whose victim's money reached it, shares in the
return of what is held there:

* direct: only one victim's money is known to have reached the account; all of it goes to them.
* rateable: several victims' money reached it; what is held is shared in proportion to each
  victim's money that came into the account (their loss there), by the largest-remainder method,
  so the parts add up exactly to what is held. It is paid after a public notice period.

A bank never holds the same money twice, so one case's hold may well pay another case's victim:
each part is paid from the holds as flows (payer case, payee case, amount), a case's hold paying its
own victim first.
"""

from __future__ import annotations

from dataclasses import dataclass

from stopay.domain.holds import HoldRefused
from stopay.domain.money import split_largest_remainder


@dataclass(frozen=True, slots=True)
class Flow:
    payer: str  # the case whose hold pays
    payee: str  # the case whose victim is paid
    amount_minor: int


@dataclass(frozen=True, slots=True)
class ReturnPlan:
    direct: bool
    parts: dict[str, int]  # payee case -> what its victim gets
    flows: tuple[Flow, ...]

    @property
    def total_minor(self) -> int:
        return sum(self.parts.values())


def plan_return(held: dict[str, int], losses: dict[str, int]) -> ReturnPlan:
    """``held``: case -> what its hold has on the account; ``losses``: case -> its victim's money
    that came into the account. Both in minor units."""
    if any(v < 0 for v in held.values()) or any(v < 0 for v in losses.values()):
        raise ValueError("amounts must not be negative")
    total = sum(held.values())
    if total == 0:
        raise HoldRefused("nothing is held on the account; there is nothing to return")
    victims = {case: loss for case, loss in losses.items() if loss > 0}
    if not victims:
        raise HoldRefused("no victim's money is known to have reached the account")
    direct = len(victims) == 1
    parts = {next(iter(victims)): total} if direct else split_largest_remainder(total, victims)
    return ReturnPlan(direct, parts, _flows(held, parts))


def _flows(held: dict[str, int], parts: dict[str, int]) -> tuple[Flow, ...]:
    left = {case: amount for case, amount in held.items() if amount > 0}
    owed = {case: amount for case, amount in parts.items() if amount > 0}
    flows: list[Flow] = []
    for case in sorted(set(left) & set(owed)):  # a hold pays its own victim first
        amount = min(left[case], owed[case])
        flows.append(Flow(case, case, amount))
        left[case] -= amount
        owed[case] -= amount
    payers = [c for c in sorted(left) if left[c]]
    payees = [c for c in sorted(owed) if owed[c]]
    while payers and payees:
        payer, payee = payers[0], payees[0]
        amount = min(left[payer], owed[payee])
        flows.append(Flow(payer, payee, amount))
        left[payer] -= amount
        owed[payee] -= amount
        if not left[payer]:
            payers.pop(0)
        if not owed[payee]:
            payees.pop(0)
    return tuple(flows)

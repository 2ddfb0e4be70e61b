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

Whether a return can be taken at all is decided here too (:func:`plan_account_return` over each
case's :class:`CaseOnAccount`), and when it is paid (:func:`timing`): a direct return at once, a
rateable one's payments parked until the notice ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from stopay.domain.attribution import Parts
from stopay.domain.holds import HoldPolicy, HoldRefused, HoldState
from stopay.domain.money import split_largest_remainder
from stopay.domain.orders import OrderStatus
from stopay.domain.trail import traced


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

    def paid_by(self) -> dict[str, int]:
        """What each paying case's hold pays out, by case."""
        paid: dict[str, int] = {}
        for flow in self.flows:
            paid[flow.payer] = paid.get(flow.payer, 0) + flow.amount_minor
        return dict(sorted(paid.items()))


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


# ---- a return of what is held on one account, across its cases ------------------------------------


@dataclass(frozen=True, slots=True)
class CaseOnAccount:
    """One case's figures on an account whose money is to be returned, and its hold there."""

    case: str  # the case's id
    hold: HoldState | None  # None: the case traced money there but holds nothing (no hold)
    held_minor: int
    in_flight_minor: int  # freezes still out with the bank
    releasing_minor: int  # releases and returns still out with the bank
    came_in: tuple[Parts, ...] = ()  # the labelled parts of each transfer of the victim's money into the account
    expires_at: datetime | None = None  # of its hold
    # The status of its hold's latest extension (a formal freeze the bank has not confirmed is not paid from).
    last_extension: OrderStatus | None = None

    @property
    def takes_part(self) -> bool:
        """A released or lapsed hold's money goes back to the account holder, not to the victims."""
        return self.hold not in (HoldState.RELEASED, HoldState.LAPSED)

    @property
    def loss_minor(self) -> int:
        """The victim's money that came into the account, as this case traced it; none where the case
        found the account unrelated (released its hold)."""
        if self.hold is HoldState.RELEASED:
            return 0
        return sum(traced(parts) for parts in self.came_in)


def paying(cases: list[CaseOnAccount]) -> dict[str, int]:
    """What each case's hold pays in: every hold still holding."""
    return {c.case: c.held_minor for c in cases if c.takes_part}


def check_returnable(cases: list[CaseOnAccount], direct: bool, now: datetime, policy: HoldPolicy) -> None:
    """Refuses a return the holds on the account cannot pay: all holds with money there must be formal
    freezes the bank has confirmed, none expired, none with a freeze or release out with the bank, and
    (a rateable return waiting for its notice) none lapsing before the notice ends."""
    notice_ends = now + timedelta(days=policy.notice_days)
    for c in cases:
        if not c.takes_part:
            continue
        state = c.hold.value if c.hold else None
        if c.in_flight_minor or c.releasing_minor:
            raise HoldRefused(
                f"freezes or releases of case {c.case} on this account are still out with the bank; try again shortly",
                case_id=c.case,
                state=state,
            )
        if c.hold is HoldState.RETURNING:
            raise HoldRefused("a return of this account's money is already under way", case_id=c.case, state=state)
        if not c.held_minor:
            continue
        if c.hold is not HoldState.FROZEN:
            raise HoldRefused(
                f"the hold of case {c.case} is {state or 'missing'}; only a formal freeze "
                "is returned (convert it first)",
                case_id=c.case,
                state=state,
            )
        if c.last_extension is not OrderStatus.EXTENDED:
            raise HoldRefused(
                f"the bank has not confirmed the formal freeze of case {c.case} "
                f"(its extension is {c.last_extension.value if c.last_extension else 'missing'}); return once it has",
                case_id=c.case,
                state=state,
            )
        assert c.expires_at is not None  # a formal freeze always has an expiry
        if c.expires_at <= now:
            raise HoldRefused(
                f"the formal freeze of case {c.case} has expired", case_id=c.case, state=state, expired="true"
            )
        if not direct and c.expires_at < notice_ends:
            raise HoldRefused(
                f"the formal freeze of case {c.case} expires before the return notice ends; renew it first",
                case_id=c.case,
                state=state,
            )


def plan_account_return(cases: list[CaseOnAccount], now: datetime, policy: HoldPolicy) -> ReturnPlan:
    """The return of what is held on the account, as its cases stand at ``now``, or refused
    (:class:`HoldRefused`) when it cannot be paid."""
    plan = plan_return(paying(cases), {c.case: c.loss_minor for c in cases})
    check_returnable(cases, plan.direct, now, policy)
    return plan


@dataclass(frozen=True, slots=True)
class ReturnTiming:
    notice_days: int  # how long after the return starts its victims are paid
    parked: bool  # its payments wait for the sweeper's 'pay' at the notice's end instead of going out now


def timing(plan: ReturnPlan, policy: HoldPolicy) -> ReturnTiming:
    """A direct return is paid at once; a rateable one after the public notice."""
    if plan.direct:
        return ReturnTiming(0, parked=False)
    return ReturnTiming(policy.notice_days, parked=True)

"""What stopay does, independent of gRPC: the use cases the servicers of ``stopay.api`` translate
requests into, one module per group. Plain values in and out (domain types and dataclasses); a
refusal is a domain exception (``stopay.domain``), a database failure one of ``stopay.domain.errors``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import asyncpg

from stopay.domain.holds import HoldPolicy
from stopay.domain.trail import Limits
from stopay.service.audit import Audit
from stopay.service.banks import Banks
from stopay.service.callbacks import Callbacks
from stopay.service.cases import Cases
from stopay.service.entries import Entries
from stopay.service.holds.approvals import Approvals
from stopay.service.holds.objections import Objections
from stopay.service.holds.returns import Returns
from stopay.service.holds.steps import HoldSteps
from stopay.service.orders import Orders
from stopay.service.reviews import Reviews
from stopay.service.watch import WatchHub
from stopay.store import cases
from stopay.store.notifications import Notifications


@dataclass(frozen=True, slots=True)
class Services:
    entries: Entries
    cases: Cases
    orders: Orders
    callbacks: Callbacks
    hold_steps: HoldSteps
    returns: Returns
    approvals: Approvals
    objections: Objections
    audit: Audit
    banks: Banks
    reviews: Reviews
    # The process's case watchers, one read per change shared (started and closed with the app).
    hub: WatchHub

    @classmethod
    def build(
        cls,
        pool: asyncpg.Pool,
        notifications: Notifications,
        limits: Limits,
        retry_after: Callable[[int], float],
        policy: HoldPolicy,
        same_transfer_window_s: float = 120.0,
        watch_sweep_s: float = 60.0,
        first_hold: Callable[[float], None] | None = None,
    ) -> Services:
        hub = WatchHub(partial(cases.look, pool), notifications, sweep_s=watch_sweep_s)
        return cls(
            Entries(pool, notifications, limits, same_transfer_window_s),
            Cases(pool, hub),
            Orders(pool),
            Callbacks(pool, retry_after, policy, first_hold),
            HoldSteps(pool, policy),
            Returns(pool, policy),
            Approvals(pool, policy),
            Objections(pool, policy),
            Audit(pool),
            Banks(pool),
            Reviews(pool, policy),
            hub,
        )

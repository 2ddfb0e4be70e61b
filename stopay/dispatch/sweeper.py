"""The sweeper: acts on holds by the database clock, on every replica at once, safely.

Every ``sweep_s`` it asks the database what is due (store/sql/holds_due.sql): live holds past their
expiry lapse (the bank is asked to release them), holds about to expire are warned of once (a
WARNING log line and a ``hold.expiring`` event), and rateable returns whose notice has ended are
paid; a holder's objection is warned of once before its deadline (``objection.due_soon``) and
escalated once when the deadline passes undecided (``objection.escalated``). Each hold and
objection is done in its own transaction that locks it and checks again, so two replicas racing for
one do it once, and a hold an officer renewed meanwhile is left alone.
"""

from __future__ import annotations

import asyncpg
import structlog

from stopay.dispatch.periodic import Periodic
from stopay.domain.errors import ObjectionNotFound
from stopay.domain.holds import HoldPolicy, HoldRefused
from stopay.service.holds.objections import Objections
from stopay.service.holds.steps import HoldSteps
from stopay.store import holds as store
from stopay.store import objections
from stopay.store.errors import StoreError

log = structlog.get_logger(__name__)


class Sweeper(Periodic):
    name = "stopay-sweeper"
    failed_event = "sweeper.failed"

    def __init__(
        self, pool: asyncpg.Pool, policy: HoldPolicy, owner: str, every_s: float = 30.0, batch: int = 100
    ) -> None:
        super().__init__(every_s)
        self._pool = pool
        self._policy = policy
        self._steps = HoldSteps(pool, policy)
        self._objections = Objections(pool, policy)
        self._actor = f"sweeper@{owner}"
        self._batch = batch

    async def round(self) -> None:
        await self.sweep()

    async def sweep(self) -> int:
        """One round; returns how many holds and objections it acted on."""
        due = await store.due(self._pool, self._batch, self._policy.warnings())
        done = 0
        for action, case_id, bank_code, number in due:
            try:
                done += await self._steps.sweep(action, case_id, bank_code, number, self._actor)
            except (HoldRefused, store.HoldNotFound) as exc:  # changed under us: nothing to do
                log.info("sweeper.skipped", action=action, case_id=str(case_id), reason=str(exc))
            except StoreError as exc:  # one hold the database refuses must not hold back the others
                log.error("sweeper.hold_failed", action=action, case_id=str(case_id), error=str(exc))
        for step, objection_id, case_id in await objections.due(
            self._pool, self._batch, self._policy.objection_warn_hours
        ):
            try:
                done += await self._objections.sweep(step, objection_id, case_id, self._actor)
            except ObjectionNotFound as exc:
                log.info("sweeper.skipped", action=step, case_id=str(case_id), reason=str(exc))
            except StoreError as exc:
                log.error("sweeper.objection_failed", action=step, case_id=str(case_id), error=str(exc))
        return done

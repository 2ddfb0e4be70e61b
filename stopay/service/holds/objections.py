"""A holder's objection to a hold: filed (through the bank or at a station), decided by an officer
or supervisor, warned of and escalated by the sweeper when its deadline nears and passes.

Each step is one hold transaction: the hold and its case's chain head are locked, then the
objection; every step appends its event to the case's chain. Filing and deciding carry a
request_id: sent again, they are recognised and answered with the objection as it is.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

import asyncpg
import structlog

from stopay.domain.accounts import AccountKey
from stopay.domain.holds import HoldPolicy, HoldRefused, release
from stopay.domain.objections import (
    Objection,
    ObjectionAction,
    ObjectionDecision,
    ObjectionState,
    ObjectionView,
    release_part,
)
from stopay.service.holds.steps import _domain, digest, take
from stopay.store import objections as store
from stopay.store.holds import hold_transaction

log = structlog.get_logger(__name__)


class Objections:
    def __init__(self, pool: asyncpg.Pool, policy: HoldPolicy) -> None:
        self.pool = pool
        self.policy = policy

    async def file(self, objection: Objection, actor: str) -> ObjectionView:
        """Files ``objection`` to its hold; refused when the hold has ended or another objection to
        it is open."""
        payload = {
            "case": str(objection.case_id),
            "account": f"{objection.bank_code}:{objection.number}",
            "holder": objection.holder_name,
            "via": objection.via.value,
            "taken_by": objection.taken_by,
            "grounds": objection.grounds,
            "documents": list(objection.documents),
        }
        async with hold_transaction(self.pool, actor) as tx:
            if await tx.claim_request(objection.request_id, "object", digest("object", payload)) is not None:
                seen = await store.read(tx.conn, request_id=objection.request_id)
                return _replayed(seen)
            _, row = await tx.lock_one(objection.case_id, objection.bank_code, objection.number)
            if not row.state.live:
                raise HoldRefused(
                    f"the hold has ended ({row.state}): there is nothing to object to", state=row.state.value
                )
            already = await store.open_on(tx, objection.case_id, objection.bank_code, objection.number)
            if already is not None:
                raise HoldRefused(
                    f"objection {already.objection_id} to this hold is open until it is decided",
                    objection_id=str(already.objection_id),
                    due_at=already.due_at.isoformat(),
                )
            filed = await store.file(tx, uuid.uuid4(), objection, self.policy.objection_days * 24)
        log.info(
            "objection.filed",
            case_id=str(objection.case_id),
            account=AccountKey(objection.bank_code, objection.number).masked,
            objection_id=str(filed.objection_id),
            via=filed.via,
            due_at=filed.due_at.isoformat(),
        )
        return filed

    async def decide(
        self,
        objection_id: uuid.UUID,
        decision: ObjectionDecision,
        reasons: str,
        actor: str,
        request_id: str,
        release_minor: int = 0,
    ) -> ObjectionView:
        """Decides the open objection: 'release' releases the whole hold in the same transaction (its
        release order goes to the bank), 'release_part' releases ``release_minor`` of it the same way
        and keeps the rest held (no more than the rest from then on), 'keep' leaves it as it is."""
        payload = {"objection": str(objection_id), "decision": decision.value, "reasons": reasons}
        if decision is ObjectionDecision.RELEASE_PART:
            payload["release_minor"] = str(release_minor)
        found = await store.read(self.pool, objection_id=objection_id)
        async with hold_transaction(self.pool, actor) as tx:
            if await tx.claim_request(request_id, "decide_objection", digest("decide_objection", payload)) is not None:
                return _replayed(await store.read(tx.conn, objection_id=objection_id))
            trail, row = await tx.lock_one(found.case_id, found.bank_code, found.account_number)
            current = await store.lock(tx, objection_id)
            if current.state is not ObjectionState.OPEN:
                raise HoldRefused(
                    f"objection {objection_id} was decided already ({current.decision}) by {current.decided_by}",
                    objection_id=str(objection_id),
                )
            released: int | None = None
            kept: int | None = None
            if decision is ObjectionDecision.RELEASE:
                move = release(_domain(trail, row))  # refused when the hold has ended
                await take(tx, trail, row, move, request_id, f"objection upheld: {reasons}")
                released, kept = move.release_minor, move.keep_minor
            elif decision is ObjectionDecision.RELEASE_PART:
                # Refused (writing nothing) unless 0 < release_minor < what the case holds there.
                move = release_part(_domain(trail, row), release_minor)
                why = "objection partly upheld"
                await take(tx, trail, row, move, request_id, f"{why}: {reasons}", release_reason=why)
                await store.limit_hold(tx, found.case_id, found.bank_code, found.account_number, move.keep_minor)
                released, kept = move.release_minor, move.keep_minor
            decided = await store.decide(tx, objection_id, decision, reasons, request_id, released, kept)
        log.info(
            "objection.decided",
            case_id=str(decided.case_id),
            account=AccountKey(decided.bank_code, decided.account_number).masked,
            objection_id=str(objection_id),
            decision=decision,
            released_minor=released,
        )
        return decided

    async def list(self, case_id: uuid.UUID | None, open_only: bool, overdue_only: bool) -> list[ObjectionView]:
        return await store.listing(self.pool, case_id, open_only, overdue_only)

    async def sweep(self, action: ObjectionAction, objection_id: uuid.UUID, case_id: uuid.UUID, actor: str) -> bool:
        """The sweeper's step on one objection; False when there was nothing to do any more."""
        async with hold_transaction(self.pool, actor) as tx:
            await store.lock_chain(tx, case_id)
            done = await store.mark(tx, action, objection_id, self.policy.objection_warn_hours)
        if done:
            event = "objection.due_soon" if action is ObjectionAction.WARN else "objection.escalated"
            log.warning(event, case_id=str(case_id), objection_id=str(objection_id))
        return done


def _replayed(seen: ObjectionView) -> ObjectionView:
    return replace(seen, replayed=True)

"""A bank's callback with the outcome of a freeze it first answered "pending": applied like any
other bank answer, under the account's lock. A report for an order already settled, a repeat, or a
late "still pending" changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
import structlog

from bank_adapters.protocol import FreezeAnswer
from stopay.domain.authz import Denied
from stopay.domain.holds import HoldPolicy
from stopay.domain.orders import OrderStatus, freeze_out, holds_money
from stopay.service.answers.apply import Settled, apply_answers
from stopay.service.answers.translate import freeze_outcome
from stopay.store import orders

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Reported:
    applied: bool  # False: the order was settled already, or the bank still says "pending"
    order_status: OrderStatus  # the order's status afterwards


class Callbacks:
    def __init__(
        self,
        pool: asyncpg.Pool,
        retry_after: Callable[[int], float],
        policy: HoldPolicy,
        first_hold: Callable[[float], None] | None = None,
    ) -> None:
        self._pool = pool
        self._first_hold = first_hold  # told of each case's first hold a callback starts (metrics)
        self._retry_after = retry_after
        self._policy = policy

    async def freeze_outcome(
        self, case_id: uuid.UUID, key: str, bank_code: str, answer: FreezeAnswer, actor: str
    ) -> Reported | None:
        """Applies ``answer`` from the bank ``bank_code`` to the freeze (of a freeze order or a
        stop) sent under idempotency key ``key``; None when there is no such freeze. ``Denied``
        when the order went to another bank; ``UnknownAnswer`` when the answer makes no sense for
        the order."""
        order = await orders.by_key(self._pool, case_id, key)
        if order is None or not holds_money(order.kind):
            return None
        if bank_code != order.bank_code:
            raise Denied(
                f"the order was sent to another bank than {bank_code}; nothing changed", "ORDER_OF_ANOTHER_BANK"
            )
        if not freeze_out(order.kind, order.status) or order.status is OrderStatus.AWAITING_REVIEW:
            # settled already, or its freeze not yet asked for (a freeze waiting for review never was)
            return Reported(False, order.status)
        outcome = freeze_outcome(order, answer)
        if outcome.status is OrderStatus.PENDING:
            return Reported(False, order.status)
        await apply_answers(
            self._pool,
            None,
            [Settled(order, outcome)],
            self._retry_after,
            actor=actor,
            policy=self._policy,
            first_hold=self._first_hold,
        )
        after = await orders.by_id(self._pool, case_id, order.order_id)
        assert after is not None
        applied = not freeze_out(after.kind, after.status)
        log.info("gateway.callback", order_id=str(order.order_id), status=after.status, applied=applied)
        return Reported(applied, after.status)

"""OperatorService: what an operator does when a bank could not be reached in time."""

from __future__ import annotations

import uuid

import grpc
import structlog

from stopay.api import callers
from stopay.api.errors import failed_precondition, not_found
from stopay.api.validation import InvalidRequest, Violation, text_violations
from stopay.domain.orders import RetryRefused
from stopay.service.orders import Orders
from stopay.v1 import operator_pb2, operator_pb2_grpc

log = structlog.get_logger(__name__)


_NOT_RETRIED = {
    RetryRefused.NOT_UNDELIVERABLE: "is not an undeliverable order",
    RetryRefused.HOLD_ENDED: "extends a hold that has ended",
    RetryRefused.RETRIED_ALREADY: "was retried already",
    RetryRefused.NOTHING_TO_FREEZE: "is a stop whose account shows nothing more to freeze",
    RetryRefused.REVIEW_DECLINED: "is a stop of a case whose review of large freezes was declined",
}


class OperatorServicer(operator_pb2_grpc.OperatorServiceServicer):
    def __init__(self, orders: Orders) -> None:
        self._orders = orders

    async def RetryOrder(
        self, request: operator_pb2.RetryOrderRequest, context: grpc.aio.ServicerContext
    ) -> operator_pb2.RetryOrderResponse:
        try:
            order_id = uuid.UUID(request.order_id)
        except ValueError:
            raise InvalidRequest([Violation("order_id", "must be an order id (a UUID)")]) from None
        if violations := text_violations("operator_id", request.operator_id, required=True, max_len=100):
            raise InvalidRequest(violations)
        actor = callers.current().actor(f"operator:{request.operator_id.strip()}")
        created = await self._orders.retry(order_id, actor)
        if created is RetryRefused.NOT_FOUND:
            await context.abort_with_status(not_found(f"no order {order_id}", "ORDER_NOT_FOUND", order_id=order_id))
        if isinstance(created, RetryRefused):
            await context.abort_with_status(
                failed_precondition(
                    f"order {order_id} {_NOT_RETRIED[created]}; nothing to retry",
                    "ORDER_NOT_RETRYABLE",
                    order_id=order_id,
                    why=created.value,
                )
            )
            raise AssertionError("unreachable: abort_with_status raises")
        log.info("operator.retry", order_id=str(order_id), new_order_id=str(created.order_id))
        return operator_pb2.RetryOrderResponse(case_id=str(created.case_id), order_id=str(created.order_id))

"""HoldService: translates and checks each request, hands it to the hold lifecycle, and maps a
refusal to the gRPC status that says why."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
import structlog

from stopay.api import callers
from stopay.api.boundary import about
from stopay.api.convert import APPROVAL_ACTION, hold_message, objection_message, review_message, timestamp
from stopay.api.hold_validation import (
    By,
    approve_request,
    decide_objection_request,
    decide_review_request,
    file_objection_request,
    formalize_request,
    list_objections_request,
    list_request,
    list_reviews_request,
    return_request,
    step_request,
)
from stopay.domain.approvals import ApprovalRefused
from stopay.domain.errors import ApprovalNotFound, HoldNotFound, ObjectionNotFound, RequestConflict, ReviewNotFound
from stopay.domain.holds import HoldRefused
from stopay.domain.review import ReviewRefused
from stopay.service.holds.approvals import Approvals
from stopay.service.holds.objections import Objections
from stopay.service.holds.returns import Returns, StartedReturn
from stopay.service.holds.steps import HoldSteps
from stopay.service.reviews import Reviews
from stopay.v1 import holds_pb2, holds_pb2_grpc

log = structlog.get_logger(__name__)
T = TypeVar("T")


class HoldServicer(holds_pb2_grpc.HoldServiceServicer):
    def __init__(
        self, steps: HoldSteps, returns: Returns, approvals: Approvals, objections: Objections, reviews: Reviews
    ) -> None:
        self._steps = steps
        self._returns = returns
        self._approvals = approvals
        self._objections = objections
        self._reviews = reviews

    async def ListHolds(
        self, request: holds_pb2.ListHoldsRequest, context: grpc.aio.ServicerContext
    ) -> holds_pb2.ListHoldsResponse:
        case_id, bank_code, number = await _checked(list_request, request, context)
        rows = await self._steps.list(case_id, bank_code, number)
        return holds_pb2.ListHoldsResponse(holds=[hold_message(r) for r in rows])

    async def RenewStop(self, request: holds_pb2.RenewStopRequest, context: grpc.aio.ServicerContext) -> holds_pb2.Hold:
        target, by = await _checked(step_request, request, context)
        return hold_message(
            await _step(
                self._steps.renew(
                    target.case_id, target.bank_code, target.number, _actor(by), by.reason, by.request_id
                ),
                context,
                case_id=target.case_id,
                bank_code=target.bank_code,
            )
        )

    async def Formalize(self, request: holds_pb2.FormalizeRequest, context: grpc.aio.ServicerContext) -> holds_pb2.Hold:
        target, by, document = await _checked(formalize_request, request, context)
        return hold_message(
            await _step(
                self._steps.ask_formalize(
                    target.case_id,
                    target.bank_code,
                    target.number,
                    _actor(by),
                    by.reason,
                    by.request_id,
                    document=document,
                    major=request.major,
                ),
                context,
                case_id=target.case_id,
                bank_code=target.bank_code,
            )
        )

    async def ReleaseHold(
        self, request: holds_pb2.ReleaseHoldRequest, context: grpc.aio.ServicerContext
    ) -> holds_pb2.Hold:
        target, by = await _checked(step_request, request, context)
        return hold_message(
            await _step(
                self._steps.release(
                    target.case_id, target.bank_code, target.number, _actor(by), by.reason, by.request_id
                ),
                context,
                case_id=target.case_id,
                bank_code=target.bank_code,
            )
        )

    async def ReturnFunds(
        self, request: holds_pb2.ReturnFundsRequest, context: grpc.aio.ServicerContext
    ) -> holds_pb2.ReturnFundsResponse:
        (bank_code, number), by = await _checked(return_request, request, context)
        started = await _step(
            self._returns.ask(bank_code, number, _actor(by), by.reason, by.request_id),
            context,
            bank_code=bank_code,
        )
        return _returned(started)

    async def Approve(
        self, request: holds_pb2.ApproveRequest, context: grpc.aio.ServicerContext
    ) -> holds_pb2.ApproveResponse:
        approval_id, by = await _checked(approve_request, request, context)
        caller = callers.current()  # with TLS, the certificate's identity and role
        done = await _step(
            self._approvals.approve(approval_id, _actor(by), caller.role or by.role, by.reason, by.request_id),
            context,
            approval_id=approval_id,
        )
        reply = holds_pb2.ApproveResponse(
            approval_id=done.approval_id,
            action=APPROVAL_ACTION.number(done.action),
            requested_by=done.requested_by,
            approved_by=done.approved_by,
            replayed=done.replayed,
        )
        if done.hold is not None:
            reply.hold.CopyFrom(hold_message(done.hold))
        elif done.started is not None:
            reply.returned.CopyFrom(_returned(done.started))
        return reply

    async def FileObjection(
        self, request: holds_pb2.FileObjectionRequest, context: grpc.aio.ServicerContext
    ) -> holds_pb2.Objection:
        objection, by = await _checked(file_objection_request, request, context)
        filed = await _step(
            self._objections.file(objection, _actor(by)),
            context,
            case_id=objection.case_id,
            bank_code=objection.bank_code,
        )
        return objection_message(filed)

    async def ListObjections(
        self, request: holds_pb2.ListObjectionsRequest, context: grpc.aio.ServicerContext
    ) -> holds_pb2.ListObjectionsResponse:
        case_id, open_only, overdue_only = await _checked(list_objections_request, request, context)
        rows = await self._objections.list(case_id, open_only, overdue_only)
        return holds_pb2.ListObjectionsResponse(objections=[objection_message(r) for r in rows])

    async def DecideObjection(
        self, request: holds_pb2.DecideObjectionRequest, context: grpc.aio.ServicerContext
    ) -> holds_pb2.Objection:
        objection_id, decision, by, release_minor = await _checked(decide_objection_request, request, context)
        decided = await _step(
            self._objections.decide(objection_id, decision, by.reason, _actor(by), by.request_id, release_minor),
            context,
            objection_id=objection_id,
        )
        return objection_message(decided)

    async def ListReviews(
        self, request: holds_pb2.ListReviewsRequest, context: grpc.aio.ServicerContext
    ) -> holds_pb2.ListReviewsResponse:
        case_id, awaiting_only = await _checked(list_reviews_request, request, context)
        rows = await self._reviews.list(case_id, awaiting_only)
        return holds_pb2.ListReviewsResponse(reviews=[review_message(r) for r in rows])

    async def DecideReview(
        self, request: holds_pb2.DecideReviewRequest, context: grpc.aio.ServicerContext
    ) -> holds_pb2.Review:
        case_id, decision, by = await _checked(decide_review_request, request, context)
        decided = await _step(
            self._reviews.decide(case_id, decision, by.reason, _actor(by), by.request_id),
            context,
            case_id=case_id,
        )
        return review_message(decided)


def _returned(started: StartedReturn) -> holds_pb2.ReturnFundsResponse:
    plan = started.plan
    return holds_pb2.ReturnFundsResponse(
        direct=plan.direct,
        total_minor=plan.total_minor,
        parts=[holds_pb2.ReturnPart(case_id=c, amount_minor=a) for c, a in sorted(plan.parts.items())],
        due_at=timestamp(started.due_at),
        replayed=started.replayed,
        awaiting_approval=started.awaiting_approval,
        approval_id=started.approval_id,
    )


async def _checked(check: Callable[[Any], T], request: Any, context: grpc.aio.ServicerContext) -> T:
    return check(request)


def _actor(by: By) -> str:
    """The certificate's identity; on a plain-text loopback server, the officer the request names."""
    return callers.current().actor(by.actor)


async def _step(call: Awaitable[T], context: grpc.aio.ServicerContext, **target: object) -> T:
    """Runs a hold step; a refusal's ErrorInfo names the ``target`` (case, bank) and, where known,
    the hold's state (the error boundary turns it into the status)."""
    try:
        return await call
    except (
        HoldRefused,
        HoldNotFound,
        RequestConflict,
        ApprovalRefused,
        ApprovalNotFound,
        ObjectionNotFound,
        ReviewRefused,
        ReviewNotFound,
    ) as exc:
        about(exc, **target)
        raise

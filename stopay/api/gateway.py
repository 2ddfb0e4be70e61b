"""BankGateway: banks call back with the outcome of a freeze they first answered "pending", and file
their account holders' objections to holds.

The callback names the order by the idempotency key of the freeze request. It is applied like any
other bank answer, under the account's lock; a report for an order already settled, a repeat, or a
late "still pending" changes nothing and is acknowledged all the same.
"""

from __future__ import annotations

from datetime import UTC

import grpc

from bank_adapters.protocol import (
    Account,
    AnswerStatus,
    ExitKind,
    FreezeAnswer,
    Statement,
    StatementLine,
)
from stopay.api import callers
from stopay.api.boundary import about
from stopay.api.convert import ANSWER_STATUS, EXIT_KIND, LINE_KIND, ORDER_STATUS, timestamp
from stopay.api.errors import not_found
from stopay.api.gateway_validation import outcome_violations
from stopay.api.hold_validation import _HoldChecker
from stopay.api.validation import InvalidRequest, Violation
from stopay.domain.errors import HoldNotFound, RequestConflict
from stopay.domain.holds import HoldRefused
from stopay.domain.objections import Objection, ObjectionVia
from stopay.domain.orders import freeze_key_case
from stopay.service.callbacks import Callbacks
from stopay.service.holds.objections import Objections
from stopay.v1 import gateway_pb2, gateway_pb2_grpc


def _statement(message: gateway_pb2.ReportedStatement) -> Statement:
    return Statement(
        opening_balance_minor=message.opening_balance_minor,
        lines=tuple(
            StatementLine(
                seq=line.seq,
                at=line.at.ToDatetime(tzinfo=UTC),
                kind=LINE_KIND.name(line.kind),
                amount_minor=line.amount_minor,
                txn_id=line.txn_id,
                counterparty=Account(
                    line.counterparty.bank_code, line.counterparty.number, line.counterparty.holder_name
                )
                if line.counterparty.bank_code
                else None,
                exit=ExitKind(EXIT_KIND.name(line.exit)) if line.exit else None,
            )
            for line in message.lines
        ),
    )


class BankGatewayServicer(gateway_pb2_grpc.BankGatewayServicer):
    def __init__(self, callbacks: Callbacks, objections: Objections) -> None:
        self._callbacks = callbacks
        self._objections = objections

    async def ReportFreezeOutcome(
        self, request: gateway_pb2.FreezeOutcome, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.FreezeOutcomeAck:
        case_id = freeze_key_case(request.idempotency_key)
        violations = []
        if case_id is None:
            violations.append(Violation("idempotency_key", "is not the key of a freeze request stopay sent"))
        violations += outcome_violations(request)
        if violations:
            raise InvalidRequest(violations)
        assert case_id is not None
        answer = FreezeAnswer(
            status=AnswerStatus(ANSWER_STATUS.name(request.status)),
            held_minor=request.held_minor,
            balance_minor=request.balance_minor,
            reason_code=request.reason_code,
            statement=_statement(request.statement) if request.HasField("statement") else None,
            bank_reference=request.bank_reference,
            extra={"detail": request.detail} if request.detail else {},
        )
        # Denied when the order went to another bank; UnknownAnswer: the boundary names held_minor
        reported = await self._callbacks.freeze_outcome(
            case_id,
            request.idempotency_key,
            request.bank_code,
            answer,
            actor=callers.current().actor(f"bank:{request.bank_code}"),
        )
        if reported is None:
            await context.abort_with_status(
                not_found(
                    f"no freeze request with key {request.idempotency_key}",
                    "FREEZE_REQUEST_NOT_FOUND",
                    idempotency_key=request.idempotency_key,
                )
            )
        assert reported is not None
        return gateway_pb2.FreezeOutcomeAck(
            applied=reported.applied, order_status=ORDER_STATUS.number(reported.order_status)
        )

    async def FileObjection(
        self, request: gateway_pb2.ObjectionFiling, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.ObjectionReceipt:
        objection = _objection(request)
        try:
            filed = await self._objections.file(objection, callers.current().actor(f"bank:{objection.bank_code}"))
        except (HoldRefused, HoldNotFound, RequestConflict) as exc:
            about(exc, case_id=objection.case_id, bank_code=objection.bank_code)
            raise
        return gateway_pb2.ObjectionReceipt(
            objection_id=str(filed.objection_id), due_at=timestamp(filed.due_at), replayed=filed.replayed
        )


def _objection(request: gateway_pb2.ObjectionFiling) -> Objection:
    """The filing, checked field by field: the account must be at the filing bank."""
    check = _HoldChecker()
    bank_code = check.text("bank_code", request.bank_code, max_len=11)
    case_id = check.case("case_id", request.case_id)
    account_bank, number = check.account("account.", request.account.bank_code, request.account.number)
    if bank_code and account_bank and account_bank != bank_code:
        check.fail("account.bank_code", f"must be the filing bank {bank_code!r}: a bank files for its own holders")
    holder, grounds, documents = check.objection(request.holder_name, request.grounds, list(request.documents))
    request_id = check.text("request_id", request.request_id, max_len=128)
    check.done()
    # A bank's request ids are its own: kept apart from other banks' and officers' ids.
    own_id = f"bank:{bank_code}:{request_id}"
    return Objection(case_id, account_bank, number, holder, ObjectionVia.BANK, bank_code, grounds, documents, own_id)

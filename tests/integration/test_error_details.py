"""Refusals carry google.rpc.ErrorInfo besides their text, on a real server: a program reads the
reason and the facts (the case already using an entry_id, the order, the hold's state) without
parsing the message."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from stopay.v1 import (
    audit_pb2_grpc,
    common_pb2,
    gateway_pb2,
    gateway_pb2_grpc,
    holds_pb2,
    operator_pb2,
    operator_pb2_grpc,
    station_pb2,
)
from tests.e2e.test_holds import by, one_victim, ref, start
from tests.entries import simple_request


async def refusal(call: Any, code: grpc.StatusCode) -> error_details_pb2.ErrorInfo:
    """The ErrorInfo of a call that must fail with ``code``."""
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == code, err.value.details()
    status = rpc_status.from_call(err.value)
    assert status is not None and status.message == err.value.details()
    infos = []
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            infos.append(info)
    assert len(infos) == 1, status.details
    assert infos[0].domain == "stopay"
    return infos[0]


async def test_station_operator_gateway_and_audit_refusals_carry_error_info(make_app, channel_to) -> None:
    # No dispatcher: the order stays queued (one would give it up at once, no bank being served).
    app = await make_app(dispatcher=False)
    stub = channel_to(app)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")
    try:
        request = simple_request(("ICBC", "6222000000000001", 500_000))
        first = await stub.SubmitEntry(request)
        request.narrative = "the same entry_id, other content"
        info = await refusal(stub.SubmitEntry(request), grpc.StatusCode.FAILED_PRECONDITION)
        assert info.reason == "ENTRY_ID_REUSED"
        assert dict(info.metadata) == {"entry_id": request.entry_id, "case_id": first.case_id}

        unknown = str(uuid.uuid4())
        info = await refusal(stub.GetCase(station_pb2.GetCaseRequest(case_id=unknown)), grpc.StatusCode.NOT_FOUND)
        assert (info.reason, dict(info.metadata)) == ("CASE_NOT_FOUND", {"case_id": unknown})
        audit = audit_pb2_grpc.AuditServiceStub(channel)
        info = await refusal(audit.GetCaseTrail(station_pb2.GetCaseRequest(case_id=unknown)), grpc.StatusCode.NOT_FOUND)
        assert (info.reason, dict(info.metadata)) == ("CASE_NOT_FOUND", {"case_id": unknown})

        # A queued order is not undeliverable: nothing to retry.
        case = await stub.GetCase(station_pb2.GetCaseRequest(case_id=first.case_id))
        order_id = case.orders[0].order_id
        operator = operator_pb2_grpc.OperatorServiceStub(channel)
        info = await refusal(
            operator.RetryOrder(operator_pb2.RetryOrderRequest(order_id=order_id, operator_id="O-7")),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        assert (info.reason, dict(info.metadata)) == (
            "ORDER_NOT_RETRYABLE",
            {"order_id": order_id, "why": "not_undeliverable"},
        )

        gateway = gateway_pb2_grpc.BankGatewayStub(channel)
        key = f"{first.case_id}:{uuid.uuid4()}"
        info = await refusal(
            gateway.ReportFreezeOutcome(
                gateway_pb2.FreezeOutcome(
                    idempotency_key=key, bank_code="ICBC", status=gateway_pb2.ANSWER_STATUS_ACCR, held_minor=1
                )
            ),
            grpc.StatusCode.NOT_FOUND,
        )
        assert (info.reason, dict(info.metadata)) == ("FREEZE_REQUEST_NOT_FOUND", {"idempotency_key": key})
    finally:
        await channel.close()


async def test_hold_refusals_carry_the_hold_s_state(make_app, channel_to, holds_to, tmp_path) -> None:
    app, (case,) = await start(make_app, channel_to, one_victim(tmp_path))
    holds = holds_to(app)
    renewed = by(request_id="renew-1")
    await holds.RenewStop(holds_pb2.RenewStopRequest(hold=ref(case), by=renewed))

    # Two stops are the most: the refusal says the hold's state and count.
    info = await refusal(
        holds.RenewStop(holds_pb2.RenewStopRequest(hold=ref(case), by=by())), grpc.StatusCode.FAILED_PRECONDITION
    )
    assert info.reason == "HOLD_STEP_REFUSED"
    assert {k: info.metadata[k] for k in ("case_id", "bank_code", "state", "stops", "max_stops", "expired")} == {
        "case_id": case.case_id,
        "bank_code": "BK",
        "state": "stopped",
        "stops": "2",
        "max_stops": "2",
        "expired": "false",
    }

    info = await refusal(
        holds.ReleaseHold(holds_pb2.ReleaseHoldRequest(hold=ref(case), by=renewed)), grpc.StatusCode.ALREADY_EXISTS
    )
    assert (info.reason, info.metadata["request_id"], info.metadata["case_id"]) == (
        "REQUEST_ID_REUSED",
        "renew-1",
        case.case_id,
    )

    other = holds_pb2.HoldRef(
        case_id=str(uuid.uuid4()), account=common_pb2.AccountRef(bank_code="BK", number=ref(case).account.number)
    )
    info = await refusal(holds.RenewStop(holds_pb2.RenewStopRequest(hold=other, by=by())), grpc.StatusCode.NOT_FOUND)
    assert (info.reason, dict(info.metadata)) == ("HOLD_NOT_FOUND", {"case_id": other.case_id, "bank_code": "BK"})

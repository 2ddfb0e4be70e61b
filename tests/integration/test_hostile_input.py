"""Hostile requests found by the fuzz (tests/integration/test_fuzz.py), each pinned down: every one is refused
INVALID_ARGUMENT with a google.rpc.BadRequest naming the field, never UNKNOWN or INTERNAL."""

from __future__ import annotations

import base64
import uuid

import grpc
import pytest
from google.protobuf import message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from stopay.api.wire import WHOLE, broken_field
from stopay.v1 import audit_pb2, common_pb2, gateway_pb2, operator_pb2, station_pb2
from tests.conftest import AppFactory
from tests.hostile import METHODS

# Bodies no request decodes from, with the field each refusal names.
SUBMIT = "/stopay.v1.StationService/SubmitEntry"
BODIES: list[tuple[str, bytes, str]] = [
    (SUBMIT, b"\x12\x02\xff\xfe", "station_id"),  # a string field that is not UTF-8
    (SUBMIT, b"\x2a\x03\x0a\x01\xc3", "victim.name"),  # ... inside a sub-message
    (SUBMIT, b"\x32\x00\x32\x07\x12\x05\x1a\x03\xed\xa0\x80", "transfers[1].payee.holder_name"),  # a lone surrogate
    (SUBMIT, b"\x38" + b"\xff" * 10 + b"\x01", "fraud_type"),  # a varint longer than 10 bytes
    (SUBMIT, b"\x0a\x05ab", "entry_id"),  # a length beyond the body
    (SUBMIT, b"\x0b" * 5000 + b"\x0c" * 5000, "entry_id"),  # groups (as field 1) nested past any parser's depth
    (SUBMIT, b"\x0c", "entry_id"),  # a group (as field 1) ended that never started
    (SUBMIT, b"\x0f\x00", WHOLE),  # wire type 7
    (SUBMIT, b"\x00\x01", WHOLE),  # field number 0
    ("/stopay.v1.AuditService/GetReport", b"\x0a\x02\x08\x80", "since.seconds"),  # a Timestamp cut short
    ("/stopay.v1.BankGateway/ReportFreezeOutcome", b"\x4a\x05\x12\x03\x2a\x01\xff", "statement.lines[0].txn_id"),
]


def violations(error: grpc.aio.AioRpcError) -> list[str]:
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (error.code(), error.details())
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, error.details()
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    return [v.field for v in bad.field_violations]


@pytest.mark.parametrize("method, body, field", BODIES)
def test_the_field_where_bytes_go_wrong_is_found(method: str, body: bytes, field: str) -> None:
    request = next(m.request for m in METHODS if m.path == method)
    with pytest.raises(Exception):  # noqa: B017 - the decoder's own error, whichever it is
        request.FromString(body)
    assert broken_field(request.DESCRIPTOR, body)[0] == field


async def test_undecodable_bytes_to_every_method_are_invalid_and_name_a_field(make_app: AppFactory) -> None:
    app = await make_app()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        for method, body, field in BODIES:
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await channel.unary_unary(method)(body, timeout=10)
            assert violations(error.value) == [field], body
        for m in METHODS:  # and every other method, streaming ones too
            for body in (b"\x0a\x05ab", b"\x0b" * 5000, b"\xff" * 11, b"\x0d\x01"):
                call = (channel.unary_stream if m.streaming else channel.unary_unary)(m.path)(body, timeout=10)
                with pytest.raises(grpc.aio.AioRpcError) as error:
                    if m.streaming:
                        async for _ in call:
                            pass
                    else:
                        await call
                assert violations(error.value), (m.path, body)


def _report(**fields: object) -> audit_pb2.ReportRequest:
    return _filled(audit_pb2.ReportRequest(), fields)


def _export(**fields: object) -> audit_pb2.ExportEventsRequest:
    return _filled(audit_pb2.ExportEventsRequest(), fields)


def _filled(request: message.Message, fields: dict[str, object]) -> message.Message:
    for name, value in fields.items():
        if name in ("since", "until"):
            seconds, nanos = value  # type: ignore[misc]
            getattr(request, name).seconds, getattr(request, name).nanos = seconds, nanos
        else:
            setattr(request, name, value)
    return request


def _token(created: str) -> str:
    """A page token as ListCases gives out, for a time it never would: out of range, or without a zone."""
    return base64.urlsafe_b64encode(f"{created}|{uuid.uuid4()}".encode()).decode()


LINE_TIME = gateway_pb2.ReportedLine(
    seq=1, kind=gateway_pb2.LINE_KIND_DEBIT, amount_minor=5, txn_id="T1", exit=common_pb2.EXIT_KIND_CASH
)
LINE_TIME.at.seconds, LINE_TIME.at.nanos = 1_700_000_000, -1
KEY = f"{uuid.uuid4()}:{uuid.uuid4()}"
REFUSED: list[tuple[str, message.Message, list[str]]] = [
    ("GetReport", _report(since=(-62135596801, 0)), ["since"]),
    ("GetReport", _report(since=(1_700_000_000, 10**9)), ["since"]),
    ("GetReport", _report(until=(2**63 - 1, 0)), ["until"]),
    ("GetReport", _report(until=(1_700_000_000, -1)), ["until"]),
    ("GetReport", _report(since=(1_700_000_000, 0), until=(1_600_000_000, 0)), ["until"]),
    ("GetReport", _report(station_id="S\x00"), ["station_id"]),
    ("GetReport", _report(station_id="S\u202e1"), ["station_id"]),
    ("GetReport", _report(bank_code="ICBC\x00"), ["bank_code"]),
    ("ExportEvents", _export(since=(2**40, 0)), ["since"]),
    ("ExportEvents", _export(until=(0, -5), case_id="x\x00"), ["until", "case_id"]),
    ("ListCases", station_pb2.ListCasesRequest(station_id="S\x00"), ["station_id"]),
    *(
        ("ListCases", station_pb2.ListCasesRequest(page_token=_token(created)), ["page_token"])
        for created in ("0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "2024-01-01T00:00:00")
    ),
    ("ListCases", station_pb2.ListCasesRequest(station_id="S\u2028"), ["station_id"]),
    ("RetryOrder", operator_pb2.RetryOrderRequest(order_id=str(uuid.uuid4()), operator_id="ops\x00"), ["operator_id"]),
    (
        "RetryOrder",
        operator_pb2.RetryOrderRequest(order_id=str(uuid.uuid4()), operator_id="\u2066ops"),
        ["operator_id"],
    ),
    (
        "ReportFreezeOutcome",
        gateway_pb2.FreezeOutcome(
            idempotency_key=KEY,
            bank_code="ICBC",
            status=gateway_pb2.ANSWER_STATUS_ACCR,
            statement=gateway_pb2.ReportedStatement(
                lines=[
                    gateway_pb2.ReportedLine(
                        seq=1, kind=gateway_pb2.LINE_KIND_DEBIT, amount_minor=5, txn_id="T1", exit=99
                    )
                ]
            ),
        ),
        ["statement.lines[0].exit"],
    ),
    (
        "ReportFreezeOutcome",
        gateway_pb2.FreezeOutcome(
            idempotency_key=KEY,
            bank_code="ICBC",
            status=gateway_pb2.ANSWER_STATUS_ACCR,
            bank_reference="R\ufeff",
            statement=gateway_pb2.ReportedStatement(lines=[LINE_TIME]),
        ),
        ["bank_reference", "statement.lines[0].at"],
    ),
]


async def test_filters_times_and_ids_that_cannot_reach_the_database_are_refused_by_field(
    make_app: AppFactory, pool
) -> None:
    app = await make_app()
    events = await pool.fetchval("SELECT count(*) FROM case_events")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        for name, request, fields in REFUSED:
            method = next(m for m in METHODS if m.path.endswith(f"/{name}"))
            call = (channel.unary_stream if method.streaming else channel.unary_unary)(method.path)(
                request.SerializeToString(), timeout=10
            )
            with pytest.raises(grpc.aio.AioRpcError) as error:
                if method.streaming:
                    async for _ in call:
                        pass
                else:
                    await call
            assert violations(error.value) == fields, (name, request)
    assert await pool.fetchval("SELECT count(*) FROM case_events") == events

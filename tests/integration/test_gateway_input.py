"""Hostile callbacks to BankGateway: what could never be recorded is refused as INVALID_ARGUMENT naming
the field, never UNAVAILABLE ("call back again"), which a bank that follows the contract would
obey for ever. UNAVAILABLE is kept for a database that really is out of reach."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from bank_adapters.protocol import AnswerStatus, FreezeAnswer, FreezeRequest, StatementAnswer, StatementRequest
from stopay.dispatch.dispatcher import DispatchSettings
from stopay.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    gateway_pb2,
    gateway_pb2_grpc,
    operator_pb2,
    operator_pb2_grpc,
    station_pb2,
)
from tests.conftest import eventually
from tests.entries import simple_request
from tests.fakebank import FakeBank
from tests.faults import refuse_bank_reference

FAST = dict(poll_s=0.1, retry_base_s=0.05, retry_cap_s=0.3, pending_recheck_s=60.0)


@dataclass
class Pending:
    kind: str  # of the order waiting for the bank's report
    order_id: str
    key: str
    asked_minor: int
    gateway: gateway_pb2_grpc.BankGatewayStub
    operator: operator_pb2_grpc.OperatorServiceStub

    def outcome(self, **fields: object) -> gateway_pb2.FreezeOutcome:
        message = gateway_pb2.FreezeOutcome(
            idempotency_key=self.key,
            bank_code="CBK",
            status=gateway_pb2.ANSWER_STATUS_ACCR,
            held_minor=self.asked_minor,
        )
        for name, value in fields.items():
            setattr(message, name, value)
        return message


# The order whose freeze the bank answered "pending", and the state of the case's two orders then:
# the stop (the freeze asked with the entry, under the freeze order's key with "/stop"), the
# statement finding the money there it asks for; or the freeze order, once its stop was refused and
# the statement showed the money there, asked to freeze it itself.
WAITING = {
    "stop": {"freeze": "moved_on", "stop": "pending"},
    "freeze": {"freeze": "pending", "stop": "rejected"},
}


@pytest.fixture(params=list(WAITING))
async def pending(request, make_app, channel_to, pool) -> AsyncIterator[Pending]:
    kind = request.param
    bank = FakeBank({"CBK"})

    def on_freeze(r: FreezeRequest) -> FreezeAnswer:
        if kind == "freeze" and r.idempotency_key.endswith("/stop"):
            return FreezeAnswer(AnswerStatus.RJCR, reason_code="AM04")
        return FreezeAnswer(AnswerStatus.PDCR)

    async def orders() -> dict[str, str]:
        return dict(await pool.fetch("SELECT kind, status FROM freeze_orders"))

    async def stop_refused() -> bool:
        return (await orders()).get("stop") == "rejected"

    statement = bank.statement

    async def statement_once_the_stop_is_refused(r: StatementRequest) -> StatementAnswer:
        await eventually(stop_refused)
        return await statement(r)

    bank.on_freeze = on_freeze
    if kind == "freeze":
        bank.statement = statement_once_the_stop_is_refused  # type: ignore[method-assign]
    app = await make_app(bank_adapters={"CBK": bank}, dispatch=DispatchSettings(**FAST))
    await channel_to(app).SubmitEntry(simple_request(("CBK", "6222020200004444", 90000)))

    async def is_pending() -> bool:
        return await orders() == WAITING[kind]

    await eventually(is_pending)
    order_id, key = await pool.fetchrow(
        "SELECT order_id::text, idempotency_key FROM freeze_orders WHERE kind = $1", kind
    )
    assert key in {r.idempotency_key for r in bank.requests if isinstance(r, FreezeRequest)}  # the bank was asked
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        yield Pending(
            kind,
            order_id,
            key,
            90000,
            gateway_pb2_grpc.BankGatewayStub(channel),
            operator_pb2_grpc.OperatorServiceStub(channel),
        )


def _line(**fields: object) -> gateway_pb2.ReportedLine:
    line = gateway_pb2.ReportedLine(seq=1, kind=gateway_pb2.LINE_KIND_CREDIT, amount_minor=90000, txn_id="T0")
    line.at.FromSeconds(1_700_000_000)
    for name, value in fields.items():
        if name == "at_seconds":
            line.at.seconds = value  # type: ignore[assignment]
        else:
            setattr(line, name, value)
    return line


def _with_line(**fields: object) -> Callable[[Pending], gateway_pb2.FreezeOutcome]:
    def spoil(p: Pending) -> gateway_pb2.FreezeOutcome:
        message = p.outcome()
        message.statement.opening_balance_minor = 0
        message.statement.lines.append(_line(**fields))
        return message

    return spoil


SPOILED = {
    "bank_reference": lambda p: p.outcome(bank_reference="REF\x00-1"),
    "reason_code": lambda p: p.outcome(status=gateway_pb2.ANSWER_STATUS_RJCR, held_minor=0, reason_code="AC\x0004"),
    "detail": lambda p: p.outcome(detail="held\x00"),
    "statement.lines[0].txn_id": _with_line(txn_id="T\x00"),
    "statement.lines[0].at": _with_line(at_seconds=2**40),
    "statement.lines[0].exit": _with_line(kind=gateway_pb2.LINE_KIND_DEBIT, exit=99),
    "statement.lines[0].counterparty.holder_name": lambda p: _counterparty(p, "\x1b[2J"),
    "statement.lines[0].amount_minor": _with_line(amount_minor=-5),
    "bank_code": lambda p: p.outcome(bank_code="CBK\x00"),
}


def _counterparty(p: Pending, holder: str) -> gateway_pb2.FreezeOutcome:
    message = _with_line(kind=gateway_pb2.LINE_KIND_DEBIT)(p)
    account = message.statement.lines[0].counterparty
    account.bank_code, account.number, account.holder_name = "ABC", "6228480000002222", holder
    return message


@pytest.mark.parametrize("field", [*SPOILED, "huge bank_reference"])
async def test_a_callback_that_cannot_be_recorded_is_refused_naming_the_field(pending, pool, field) -> None:
    if field == "huge bank_reference":
        message, field = pending.outcome(bank_reference="参" * 1_000_000), "bank_reference"
    else:
        message = SPOILED[field](pending)
    answers = await pool.fetchval("SELECT count(*) FROM bank_answers")
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await pending.gateway.ReportFreezeOutcome(message)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, error.value.details()
    status = rpc_status.from_call(error.value)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    assert [v.field for v in bad.field_violations] == [field]
    # Nothing written; the order still waits for a report it can record.
    assert await pool.fetchval("SELECT count(*) FROM bank_answers") == answers
    assert await pool.fetchval("SELECT status FROM freeze_orders WHERE kind = $1", pending.kind) == "pending"


async def test_a_value_the_database_refuses_is_invalid_not_unavailable(pending, pool) -> None:
    # A fault put into the real database: it refuses this reference as it would refuse a NUL.
    await refuse_bank_reference(pool)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await pending.gateway.ReportFreezeOutcome(pending.outcome(bank_reference="unstorable"))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, error.value.details()
    assert "cannot be stored" in error.value.details()  # the database refused it, nothing else
    assert await pool.fetchval("SELECT status FROM freeze_orders WHERE kind = $1", pending.kind) == "pending"
    # Odd but recordable text (emoji, another script) is taken as sent.
    ack = await pending.gateway.ReportFreezeOutcome(pending.outcome(bank_reference="冻结-🧊-1", detail="✅ 已冻结"))
    assert (ack.applied, ack.order_status) == (True, station_pb2.ORDER_STATUS_HELD)
    assert await pool.fetchval("SELECT bank_reference FROM bank_answers WHERE held_minor > 0") == "冻结-🧊-1"


async def test_an_operator_id_that_cannot_be_recorded_is_refused_naming_the_field(pending, pool) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await pending.operator.RetryOrder(
            operator_pb2.RetryOrderRequest(order_id=pending.order_id, operator_id="ops\x00")
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, error.value.details()
    assert "operator_id" in error.value.details()


async def test_requests_that_cannot_be_decoded_or_hold_impossible_times_are_invalid(make_app) -> None:
    app = await make_app()
    undecodable = b"\x0a\x02\xff\xfe"  # field 1, a string, of two bytes that are not UTF-8
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        callback = channel.unary_unary(
            "/stopay.v1.BankGateway/ReportFreezeOutcome", request_serializer=bytes, response_deserializer=bytes
        )
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await callback(undecodable)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, error.value.details()
        watch = channel.unary_stream(
            "/stopay.v1.StationService/WatchCase", request_serializer=bytes, response_deserializer=bytes
        )
        with pytest.raises(grpc.aio.AioRpcError) as error:
            async for _ in watch(undecodable):
                pass
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, error.value.details()
        audit = audit_pb2_grpc.AuditServiceStub(channel)
        report = audit_pb2.ReportRequest()
        report.since.seconds = 2**40  # beyond the year 9999
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await audit.GetReport(report)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, error.value.details()
        assert "since" in error.value.details()

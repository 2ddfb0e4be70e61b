"""The ``grpc`` bank adapter against ``stopay bank-sim``, both for real over loopback gRPC: answers
equal the simulated adapter's, errors map to BankUnavailable / BankRefused, callback banks report
through a real BankGateway server, and the CLI serves a scenario in its own process."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import json
import os
import signal
import socket
import sys
import time
import tomllib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import grpc
import pytest

from bank_adapters import registry
from bank_adapters.protocol import (
    Account,
    AnswerStatus,
    BankAdapter,
    BankRefused,
    BankUnavailable,
    ExitKind,
    ExtendAnswer,
    ExtendRequest,
    FreezeAnswer,
    FreezeRequest,
    HoldChange,
    IncomingTransfer,
    LegalDocument,
    ReleaseAnswer,
    ReleaseRequest,
    ReturnAnswer,
    ReturnRequest,
    Statement,
    StatementAnswer,
    StatementLine,
    StatementRequest,
)
from bank_adapters.remote import adapter as remote
from bank_adapters.remote import convert
from bank_adapters.remote.v1 import remote_bank_pb2 as pb
from bank_adapters.remote.v1 import remote_bank_pb2_grpc
from bank_adapters.simulated import adapter as simulated
from stopay.banksim.server import BankSim, outcome_message, serve
from stopay.v1 import gateway_pb2, gateway_pb2_grpc, station_pb2
from tests.conftest import eventually

ROOT = Path(__file__).resolve().parents[2]
SEED_XUE = ROOT / "stopay" / "examples" / "seed-xue.json"
XUE = json.loads(SEED_XUE.read_text(encoding="utf-8"))
XUE_BANKS = "CQRCB,ICBC,ABC,CCB"
EPOCH = datetime(2025, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=8)))
L1 = Account("ICBC", "6222020200001111111", "王某某")
L2 = Account("ABC", "6228480000002222222", "李某")
VICTIM = Account("CQRCB", "6214830000000580", "某科技有限公司")


def xue(**bank_changes: dict[str, Any]) -> dict[str, Any]:
    """seed-xue with some banks changed, e.g. ``xue(ICBC={"mode": "callback"})``."""
    doc = copy.deepcopy(XUE)
    for bank in doc["banks"]:
        bank.update(bank_changes.get(bank["code"], {}))
    return doc


def incoming(txn_id: str, epoch: datetime = EPOCH, payer: Account | None = None) -> tuple[IncomingTransfer, ...]:
    event = next(e for e in XUE["ledger"] if e["txn_id"] == txn_id)
    return (IncomingTransfer(txn_id, event["amount"], epoch + timedelta(seconds=event["at"]), payer),)


def statement_request(key: str, account: Account = L1, txn: str = "XUE-T1", **kw: Any) -> StatementRequest:
    kw.setdefault("level", 1)
    return StatementRequest(
        idempotency_key=key,
        case_id="case-1",
        order_id=key,
        account=account,
        currency="CNY",
        incoming=kw.pop("incoming", incoming(txn)),
        **kw,
    )


def freeze_request(key: str, amount: int, account: Account = L1, txn: str = "XUE-T1", **kw: Any) -> FreezeRequest:
    return FreezeRequest(
        idempotency_key=key,
        case_id="case-1",
        order_id=key,
        level=1,
        account=account,
        amount_minor=amount,
        currency="CNY",
        incoming=kw.pop("incoming", incoming(txn)),
        **kw,
    )


def release_request(key: str, amount: int, account: Account = L1) -> ReleaseRequest:
    return ReleaseRequest(
        idempotency_key=key, case_id="case-1", order_id=key, account=account, amount_minor=amount, currency="CNY"
    )


DOCUMENT = LegalDocument("渝公冻字[2025]001号", "王局长", 35_000_000, "account balance", True)


def extend_request(
    key: str,
    amount: int,
    account: Account = L1,
    change: HoldChange = HoldChange.RENEW_STOP,
    document: LegalDocument | None = None,
) -> ExtendRequest:
    return ExtendRequest(
        idempotency_key=key,
        case_id="case-1",
        order_id=key,
        account=account,
        amount_minor=amount,
        currency="CNY",
        change=change,
        until=EPOCH + timedelta(hours=48),
        document=document,
    )


def return_request(key: str, amount: int, account: Account = L1, beneficiary: Account = VICTIM) -> ReturnRequest:
    return ReturnRequest(
        idempotency_key=key,
        case_id="case-1",
        order_id=key,
        account=account,
        amount_minor=amount,
        currency="CNY",
        beneficiary=beneficiary,
    )


@contextlib.asynccontextmanager
async def bank_sim(network: Any = SEED_XUE, **kw: Any) -> AsyncIterator[tuple[BankSim, remote.RemoteBanks]]:
    """A bank-sim server on a free loopback port and a ``grpc`` adapter talking to it."""
    kw.setdefault("epoch", EPOCH)
    sim, port = await serve(network, "127.0.0.1:0", kw.pop("callback", None), **kw)
    banks = remote.create({"target": f"127.0.0.1:{port}", "banks": XUE_BANKS, "deadline_s": 5})
    await banks.start()
    try:
        yield sim, banks
    finally:
        await banks.close()
        await sim.stop(0)


@contextlib.asynccontextmanager
async def direct(network: Any = SEED_XUE, epoch: datetime = EPOCH) -> AsyncIterator[simulated.SimulatedBanks]:
    banks = simulated.create({"network": network, "epoch": epoch})
    await banks.start()
    try:
        yield banks
    finally:
        await banks.close()


class FakeGateway(gateway_pb2_grpc.BankGatewayServicer):
    """stopay's BankGateway as a bank sees it: acknowledges every report and keeps it."""

    def __init__(self) -> None:
        self.reports: asyncio.Queue[gateway_pb2.FreezeOutcome] = asyncio.Queue()

    async def ReportFreezeOutcome(
        self,
        request: gateway_pb2.FreezeOutcome,
        context: grpc.aio.ServicerContext,
    ) -> gateway_pb2.FreezeOutcomeAck:
        await self.reports.put(request)
        return gateway_pb2.FreezeOutcomeAck(applied=True, order_status=station_pb2.ORDER_STATUS_HELD)


@contextlib.asynccontextmanager
async def gateway(listen: str = "127.0.0.1:0") -> AsyncIterator[tuple[FakeGateway, int]]:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    fake = FakeGateway()
    gateway_pb2_grpc.add_BankGatewayServicer_to_server(fake, server)
    port = server.add_insecure_port(listen)
    await server.start()
    try:
        yield fake, port
    finally:
        await server.stop(0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the adapter gives what the simulated banks give ---------------------------------------------


async def test_seed_xue_round_trips_equal_the_simulated_adapter() -> None:
    async with bank_sim() as (sim, banks), direct() as local:
        assert isinstance(banks, BankAdapter)
        assert banks.bank_codes == local.bank_codes == sim.bank_codes
        requests: list[Any] = [
            statement_request("k1/statement"),
            freeze_request("k1", 35_000_000),
            statement_request("k2/statement", L2, "XUE-T2"),
            freeze_request("k2", 25_000_000, L2, "XUE-T2"),  # more than is there: PECR
            release_request("r1", 1_000_000),
            freeze_request("k3", 1, Account("ICBC", "6222020200001111111", "冒名")),  # BE01
            freeze_request("k4", 1, Account("ICBC", "6222020200009999999")),  # AC01
            statement_request("k5/statement", incoming=incoming("XUE-T1", payer=VICTIM)),
            freeze_request("k6", 1, incoming=incoming("XUE-T1", EPOCH + timedelta(hours=1))),  # NOOR
        ]
        call = {StatementRequest: "statement", FreezeRequest: "freeze", ReleaseRequest: "release"}
        for request in requests:
            got = await getattr(banks, call[type(request)])(request)
            want = await getattr(local, call[type(request)])(request)
            assert got == want, request
        statuses = [
            (a.status, getattr(a, "reason_code", ""))
            for a in [await local.freeze(r) for r in requests if isinstance(r, FreezeRequest)]
        ]
        assert statuses == [
            (AnswerStatus.ACCR, ""),
            (AnswerStatus.PECR, ""),
            (AnswerStatus.RJCR, "BE01"),
            (AnswerStatus.RJCR, "AC01"),
            (AnswerStatus.RJCR, "NOOR"),
        ]
        assert (
            sim.banks.world.holds()
            == local.world.holds()
            == {"ICBC:6222020200001111111": 34_000_000, "ABC:6228480000002222222": 21_000_000}
        )
        answer = await banks.statement(statement_request("k1/statement"))
        assert [(line.txn_id, line.kind) for line in answer.statement.lines] == [
            ("XUE-T1", "credit"),
            ("XUE-T2", "debit"),
        ]
        assert answer.statement.lines[1].counterparty == L2


async def test_extends_and_returns_equal_the_simulated_adapter() -> None:
    async with bank_sim() as (sim, banks), direct() as local:
        requests: list[Any] = [
            freeze_request("k1", 35_000_000),
            extend_request("e1", 30_000_000),
            extend_request("e2", 99_000_000, change=HoldChange.FORMAL_FREEZE, document=DOCUMENT),
            extend_request("e1", 30_000_000),  # a resend
            extend_request("e3", 1, Account("ICBC", "6222020200009999999")),  # AC01
            return_request("p1", 10_000_000),
            return_request("p1", 10_000_000),  # a resend
            return_request("p2", 99_000_000),
            return_request("p3", 1, Account("ICBC", "6222020200009999999")),  # AC01
            statement_request("s1/statement"),
        ]
        call = {
            FreezeRequest: "freeze",
            ExtendRequest: "extend",
            ReturnRequest: "return_funds",
            StatementRequest: "statement",
        }
        answers = []
        for request in requests:
            got = await getattr(banks, call[type(request)])(request)
            want = await getattr(local, call[type(request)])(request)
            assert untimed(got) == untimed(want), request
            answers.append(got)
        assert [
            (a.status, getattr(a, "held_minor", None), getattr(a, "returned_minor", None), a.reason_code)
            for a in answers[1:9]
        ] == [
            (AnswerStatus.ACCR, 30_000_000, None, ""),
            (AnswerStatus.ACCR, 35_000_000, None, ""),
            (AnswerStatus.ACCR, 30_000_000, None, ""),
            (AnswerStatus.RJCR, 0, None, "AC01"),
            (AnswerStatus.ACCR, None, 10_000_000, ""),
            (AnswerStatus.ACCR, None, 10_000_000, ""),
            (AnswerStatus.ACCR, None, 25_000_000, ""),
            (AnswerStatus.RJCR, None, 0, "AC01"),
        ]
        for world in (sim.banks.world, local.world):
            assert world.holds() == {}
            assert world.balance(L1.id) == 0 and world.balance(VICTIM.id) == 100_000_000 - 23_000_000
            term = world.hold_until(L1.id)
            assert term is not None and (term.until, term.change) == (
                EPOCH + timedelta(hours=48),
                HoldChange.FORMAL_FREEZE,
            )
        assert [line.txn_id for line in answers[-1].statement.lines] == [
            "XUE-T1",
            "XUE-T2",
            answers[5].bank_reference,
            answers[7].bank_reference,
        ]


def untimed(answer: Any) -> Any:
    """The answer without the times of returns in its statement: each world pays when asked (now)."""
    statement = getattr(answer, "statement", None)
    if statement is None:
        return answer
    lines = tuple(
        line if line.txn_id.startswith("XUE-") else dataclasses.replace(line, at=EPOCH) for line in statement.lines
    )
    return dataclasses.replace(answer, statement=dataclasses.replace(statement, lines=lines))


async def test_a_callback_bank_extends_and_returns_at_once() -> None:
    async with bank_sim(xue(ICBC={"mode": "callback"})) as (sim, banks):
        first = await banks.freeze(freeze_request("k1", 35_000_000))
        assert first.status == AnswerStatus.PDCR

        async def decided() -> bool:
            return (await banks.freeze(freeze_request("k1", 35_000_000))).status != AnswerStatus.PDCR

        await eventually(decided, timeout_s=5)
        extended = await banks.extend(extend_request("e1", 35_000_000))
        assert (extended.status, extended.held_minor) == (AnswerStatus.ACCR, 35_000_000)
        paid = await banks.return_funds(return_request("p1", 35_000_000))
        assert (paid.status, paid.returned_minor) == (AnswerStatus.ACCR, 35_000_000)
        assert sim.servicer.callbacks_scheduled == 1  # only the freeze went the callback way


async def test_a_resent_freeze_holds_nothing_more() -> None:
    async with bank_sim() as (sim, banks):
        first = await banks.freeze(freeze_request("k1", 35_000_000))
        again = await banks.freeze(freeze_request("k1", 35_000_000))
        assert (first.status, first.held_minor) == (AnswerStatus.ACCR, 35_000_000)
        assert again == first
        assert sim.banks.world.held("ICBC:6222020200001111111") == 35_000_000
        released = await banks.release(release_request("r1", 5_000_000))
        assert await banks.release(release_request("r1", 5_000_000)) == released
        assert sim.banks.world.held("ICBC:6222020200001111111") == 30_000_000


async def test_each_call_waits_for_its_bank_latency() -> None:
    async with bank_sim(xue(ICBC={"latency_ms": 300})) as (_, banks):
        started = time.monotonic()
        await banks.statement(statement_request("k1/statement"))
        assert time.monotonic() - started >= 0.3
        started = time.monotonic()
        await banks.statement(statement_request("k2/statement", L2, "XUE-T2"))  # ABC: 60 ms
        assert time.monotonic() - started < 0.3


# ---- errors --------------------------------------------------------------------------------------


async def test_a_bank_in_an_outage_is_unavailable_and_the_others_answer() -> None:
    now = datetime.now(UTC)
    async with bank_sim(xue(ICBC={"outages": [[-60, 3600]]}), epoch=now) as (_, banks):
        for call in (
            banks.statement(statement_request("k1/statement", incoming=incoming("XUE-T1", now))),
            banks.freeze(freeze_request("k1", 1, incoming=incoming("XUE-T1", now))),
            banks.release(release_request("r1", 1)),
            banks.extend(extend_request("e1", 1)),
            banks.return_funds(return_request("p1", 1)),
            banks.freeze_status("k1", L1),
        ):
            with pytest.raises(BankUnavailable, match="UNAVAILABLE.*outage"):
                await call
        answer = await banks.freeze(freeze_request("k2", 21_000_000, L2, incoming=incoming("XUE-T2", now)))
        assert (answer.status, answer.held_minor) == (AnswerStatus.ACCR, 21_000_000)


async def test_a_stopped_server_is_unavailable_within_the_deadline() -> None:
    sim, port = await serve(SEED_XUE, "127.0.0.1:0", epoch=EPOCH)
    banks = remote.create({"target": f"127.0.0.1:{port}", "banks": ["ICBC"], "deadline_s": 1})
    try:
        assert (await banks.freeze(freeze_request("k1", 1))).status == AnswerStatus.ACCR
        await sim.stop(0)
        started = time.monotonic()
        with pytest.raises(BankUnavailable, match="UNAVAILABLE"):
            await banks.freeze(freeze_request("k1", 1))
        assert time.monotonic() - started < 1.5
    finally:
        await banks.close()
        await sim.stop(0)


async def test_a_server_that_never_answers_is_unavailable_at_the_deadline() -> None:
    async with scripted(ScriptedBank(delay_s=30), deadline_s=0.3) as banks:
        started = time.monotonic()
        with pytest.raises(BankUnavailable, match="DEADLINE_EXCEEDED"):
            await banks.freeze(freeze_request("k1", 1))
        assert 0.25 <= time.monotonic() - started < 1.5


async def test_a_listener_that_never_speaks_grpc_is_unavailable_within_the_deadline() -> None:
    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await reader.read()  # accepts the connection and says nothing
        writer.close()

    silent = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    banks = remote.create({"target": f"127.0.0.1:{port}", "banks": "ICBC", "deadline_s": 0.3})
    try:
        started = time.monotonic()
        with pytest.raises(BankUnavailable, match="UNAVAILABLE|DEADLINE_EXCEEDED"):
            await banks.statement(statement_request("k1/statement"))
        assert time.monotonic() - started < 1.5
    finally:
        await banks.close()
        silent.close()


async def test_a_malformed_request_is_refused_not_retried() -> None:
    async with bank_sim() as (sim, banks):
        with pytest.raises(BankRefused, match="INVALID_ARGUMENT.*idempotency_key"):
            await banks.freeze(freeze_request("", 1))
        with pytest.raises(BankRefused, match="INVALID_ARGUMENT.*bank_code"):
            await banks.statement(statement_request("k1", Account("", "6222020200001111111")))
        naive = (IncomingTransfer("XUE-T1", 58_000_000, datetime(2025, 3, 1, 9, 15)),)
        with pytest.raises(BankRefused, match="cannot be sent.*timezone-aware"):
            await banks.freeze(freeze_request("k1", 1, incoming=naive))
        assert sim.banks.world.holds() == {}


class ScriptedBank(remote_bank_pb2_grpc.RemoteBankServicer):
    """Fails every freeze with ``code``, or answers it with ``answer``, after ``delay_s``."""

    def __init__(
        self, code: grpc.StatusCode | None = None, answer: pb.FreezeAnswer | None = None, delay_s: float = 0
    ) -> None:
        self.code = code
        self.answer = answer
        self.delay_s = delay_s

    async def Freeze(self, request: pb.FreezeRequest, context: grpc.aio.ServicerContext) -> pb.FreezeAnswer:
        await asyncio.sleep(self.delay_s)
        if self.code is not None:
            await context.abort(self.code, "scripted")
        assert self.answer is not None
        return self.answer


@contextlib.asynccontextmanager
async def scripted(bank: ScriptedBank, deadline_s: float = 2) -> AsyncIterator[remote.RemoteBanks]:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    remote_bank_pb2_grpc.add_RemoteBankServicer_to_server(bank, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    banks = remote.create({"target": f"127.0.0.1:{port}", "banks": ["ICBC"], "deadline_s": deadline_s})
    try:
        yield banks
    finally:
        await banks.close()
        await server.stop(0)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (grpc.StatusCode.UNAVAILABLE, BankUnavailable),
        (grpc.StatusCode.DEADLINE_EXCEEDED, BankUnavailable),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, BankUnavailable),
        (grpc.StatusCode.INVALID_ARGUMENT, BankRefused),
        (grpc.StatusCode.INTERNAL, BankRefused),
        (grpc.StatusCode.FAILED_PRECONDITION, BankRefused),
        (grpc.StatusCode.PERMISSION_DENIED, BankRefused),
    ],
)
async def test_grpc_codes_map_to_unavailable_or_refused(code: grpc.StatusCode, error: type[Exception]) -> None:
    async with scripted(ScriptedBank(code)) as banks:
        with pytest.raises(error, match=f"bank ICBC via .*Freeze: {code.name}: scripted") as caught:
            await banks.freeze(freeze_request("k1", 1))
        assert isinstance(caught.value.__cause__, grpc.aio.AioRpcError)


async def test_an_rpc_the_bank_does_not_serve_is_refused() -> None:
    async with scripted(ScriptedBank(grpc.StatusCode.INTERNAL)) as banks:
        with pytest.raises(BankRefused, match="UNIMPLEMENTED"):
            await banks.statement(statement_request("k1/statement"))


async def test_a_bank_that_does_not_serve_extend_or_return_yet_is_refused() -> None:
    async with scripted(ScriptedBank(grpc.StatusCode.INTERNAL)) as banks:
        with pytest.raises(BankRefused, match="Extend: UNIMPLEMENTED"):
            await banks.extend(extend_request("e1", 1))
        with pytest.raises(BankRefused, match="ReturnFunds: UNIMPLEMENTED"):
            await banks.return_funds(return_request("p1", 1))


async def test_an_answer_that_cannot_be_read_is_refused() -> None:
    async with scripted(ScriptedBank(answer=pb.FreezeAnswer(status=42, held_minor=1))) as banks:  # no AnswerStatus
        with pytest.raises(BankRefused, match="answer cannot be read.*got 42"):
            await banks.freeze(freeze_request("k1", 1))


# ---- callback mode -------------------------------------------------------------------------------


async def _none_underway(sim: BankSim) -> bool:
    return sim.servicer.callbacks_underway == 0


async def test_a_callback_bank_answers_pending_then_reports_the_real_outcome() -> None:
    network = xue(ICBC={"mode": "callback"})
    async with (
        gateway() as (fake, gw_port),
        bank_sim(network, callback=f"127.0.0.1:{gw_port}") as (sim, banks),
        direct(network) as local,
    ):
        answer = await banks.freeze(freeze_request("k1", 35_000_000))
        assert answer.status == AnswerStatus.PDCR and answer.held_minor == 0
        report = await asyncio.wait_for(fake.reports.get(), 5)
        real = await local.freeze(freeze_request("k1", 35_000_000))
        assert (real.status, real.held_minor) == (AnswerStatus.ACCR, 35_000_000)
        assert report == outcome_message("ICBC", "k1", real)
        assert report.idempotency_key == "k1" and report.bank_code == "ICBC"
        assert (report.status, report.held_minor, report.balance_minor) == (
            gateway_pb2.ANSWER_STATUS_ACCR,
            35_000_000,
            35_000_000,
        )
        assert [line.txn_id for line in report.statement.lines] == ["XUE-T1", "XUE-T2"]
        assert report.statement.lines[1].counterparty.number == L2.number
        # pacs.028 and a resend both give the real answer now; nothing is held or reported twice
        assert await banks.freeze_status("k1", L1) == real
        assert await banks.freeze(freeze_request("k1", 35_000_000)) == real
        assert sim.banks.world.held(L1.id) == 35_000_000
        await eventually(lambda: _none_underway(sim))  # its one callback has been delivered, and no other
        assert fake.reports.empty() and sim.servicer.callbacks_scheduled == 1
        # a sync bank of the same server answers at once
        sync = await banks.freeze(freeze_request("k2", 21_000_000, L2, "XUE-T2"))
        assert (sync.status, sync.held_minor) == (AnswerStatus.ACCR, 21_000_000)


async def test_a_callback_rejection_is_reported_with_its_reason() -> None:
    async with (
        gateway() as (fake, gw_port),
        bank_sim(xue(ICBC={"mode": "callback"}), callback=f"127.0.0.1:{gw_port}") as (_, banks),
    ):
        stranger = Account("ICBC", "6222020200001111111", "冒名")
        assert (await banks.freeze(freeze_request("k1", 1, stranger))).status == AnswerStatus.PDCR
        report = await asyncio.wait_for(fake.reports.get(), 5)
        assert (report.status, report.reason_code, report.held_minor) == (gateway_pb2.ANSWER_STATUS_RJCR, "BE01", 0)
        assert "holder name" in report.detail and not report.HasField("statement")


async def test_freeze_status_is_pending_until_the_bank_decides() -> None:
    network = xue(ICBC={"mode": "callback", "latency_ms": 600})
    async with gateway() as (fake, gw_port), bank_sim(network, callback=f"127.0.0.1:{gw_port}") as (_, banks):
        assert await banks.freeze_status("k1", L1) is None  # never seen
        assert (await banks.freeze(freeze_request("k1", 35_000_000))).status == AnswerStatus.PDCR
        status = await banks.freeze_status("k1", L1)
        assert status is not None and status.status == AnswerStatus.PDCR
        assert (await banks.freeze(freeze_request("k1", 35_000_000))).status == AnswerStatus.PDCR
        assert await banks.freeze_status("k1", L2) is None  # not a freeze of that account
        report = await asyncio.wait_for(fake.reports.get(), 5)
        decided = await banks.freeze_status("k1", L1)
        assert decided is not None and (decided.status, decided.held_minor) == (AnswerStatus.ACCR, 35_000_000)
        assert decided.bank_reference == report.bank_reference


async def test_freeze_status_of_a_sync_bank_is_its_first_answer() -> None:
    async with bank_sim() as (_, banks):
        assert await banks.freeze_status("k1", L1) is None
        answer = await banks.freeze(freeze_request("k1", 35_000_000))
        assert await banks.freeze_status("k1", L1) == answer
        with pytest.raises(BankRefused, match="INVALID_ARGUMENT"):
            await banks.freeze_status("", L1)


async def test_the_callback_is_retried_until_stopay_is_reachable() -> None:
    port = free_port()
    network = xue(ICBC={"mode": "callback", "latency_ms": 0})
    async with bank_sim(network, callback=f"127.0.0.1:{port}", callback_backoff_max_s=0.2) as (sim, banks):
        assert (await banks.freeze(freeze_request("k1", 35_000_000))).status == AnswerStatus.PDCR
        assert sim.reporter is not None

        async def failed_thrice() -> bool:  # nobody listens
            return sim.reporter.retries >= 3

        await eventually(failed_thrice)
        async with gateway(f"127.0.0.1:{port}") as (fake, _):
            report = await asyncio.wait_for(fake.reports.get(), 5)
            assert (report.idempotency_key, report.status) == ("k1", gateway_pb2.ANSWER_STATUS_ACCR)


# ---- conversion ----------------------------------------------------------------------------------


def test_conversion_is_exact_both_ways() -> None:
    at = datetime(2025, 3, 1, 9, 15, 0, 123456, tzinfo=timezone(timedelta(hours=8)))
    values: list[Any] = [
        freeze_request(
            "k1", 35_000_000, incoming=(IncomingTransfer("T1", 5, at, VICTIM), IncomingTransfer("T2", 7, at))
        ),
        statement_request("k1/statement", level=3),
        ReleaseRequest("r1", "c", "o", L1, 9, "CNY"),
        StatementAnswer(AnswerStatus.ACCR, Statement(0), balance_minor=0),
        StatementAnswer(AnswerStatus.RJCR, reason_code="AC01", extra={"detail": "no account"}),
        FreezeAnswer(
            AnswerStatus.PECR,
            held_minor=3,
            balance_minor=None,
            bank_reference="R",
            statement=Statement(
                10,
                (
                    StatementLine(1, at, "credit", 5, "T1", VICTIM),
                    StatementLine(2, at, "debit", 4, "T9", exit=ExitKind.ATM),
                    StatementLine(3, at, "credit", 1, "T10"),
                ),
            ),
            extra={"n": 2**53, "x": -1.5, "ok": True, "none": None, "deep": {"l": [1, "a"]}},
        ),
        FreezeAnswer(AnswerStatus.PDCR),
        ReleaseAnswer(AnswerStatus.ACCR, released_minor=9, bank_reference="R2"),
        L1,
    ]
    for value in values:
        message = convert.to_message(value)
        back = convert.from_message(type(message).FromString(message.SerializeToString()))
        assert back == value
        assert type(back) is type(value)
    line = convert.from_message(convert.to_message(values[5])).statement.lines[0]
    assert line.at.utcoffset() == timedelta(0) and line.at == at  # same instant, told in UTC


def test_conversion_refuses_what_it_cannot_carry_exactly() -> None:
    naive = freeze_request("k", 1, incoming=(IncomingTransfer("T1", 5, datetime(2025, 3, 1)),))
    big = FreezeAnswer(AnswerStatus.ACCR, extra={"n": 2**53 + 1})
    odd = FreezeAnswer(AnswerStatus.ACCR, extra={"when": datetime.now(UTC)})
    overflow = freeze_request("k", 2**63)
    for value, match in ((naive, "timezone-aware"), (big, "exactly"), (odd, "JSON"), (overflow, "out of range")):
        with pytest.raises(convert.ConversionError, match=match):
            convert.to_message(value)
    for message, match in (
        (pb.FreezeAnswer(status=42), "status"),
        (pb.FreezeRequest(idempotency_key="k"), "account is required"),
        (
            pb.StatementRequest(account=pb.Account(bank_code="ICBC"), incoming=[pb.IncomingTransfer(txn_id="T")]),
            "T time is required",
        ),
        (
            pb.FreezeAnswer(status=pb.ANSWER_STATUS_ACCR, statement=pb.Statement(lines=[pb.StatementLine(seq=1)])),
            "line 1 time is required",
        ),
    ):
        with pytest.raises(convert.ConversionError, match=match):
            convert.from_message(message)
    bad_exit = pb.StatementLine(seq=4, kind=pb.LINE_KIND_DEBIT, exit=99)  # 99: no ExitKind
    bad_exit.at.GetCurrentTime()
    with pytest.raises(convert.ConversionError, match="exit"):
        convert.from_message(pb.FreezeAnswer(status=pb.ANSWER_STATUS_ACCR, statement=pb.Statement(lines=[bad_exit])))


def test_extends_and_returns_convert_exactly_both_ways() -> None:
    values: list[Any] = [
        extend_request("e1", 30_000_000),
        extend_request("e2", 35_000_000, change=HoldChange.FORMAL_FREEZE, document=DOCUMENT),
        extend_request(
            "e3", 35_000_000, change=HoldChange.RENEW_FREEZE, document=LegalDocument("D2", "", 0, "", False)
        ),
        return_request("p1", 10_000_000),
        ReturnRequest("p2", "c", "o", L2, 1, "CNY", Account("CQRCB", "6214830000000580"), reason="FOCR"),
        ExtendAnswer(AnswerStatus.ACCR, held_minor=30_000_000, bank_reference="R1"),
        ExtendAnswer(AnswerStatus.RJCR, reason_code="AC01", extra={"detail": "no account"}),
        ReturnAnswer(AnswerStatus.ACCR, returned_minor=10_000_000, bank_reference="R2"),
        ReturnAnswer(AnswerStatus.RJCR, reason_code="AC01"),
    ]
    for value in values:
        message = convert.to_message(value)
        back = convert.from_message(type(message).FromString(message.SerializeToString()))
        assert back == value
        assert type(back) is type(value)
    assert type(convert.from_message(convert.to_message(values[0])).change) is HoldChange


def test_extends_and_returns_refuse_what_they_cannot_carry() -> None:
    naive = dataclasses.replace(extend_request("e1", 1), until=datetime(2025, 3, 3, 9, 30))
    with pytest.raises(convert.ConversionError, match="until must be a timezone-aware"):
        convert.to_message(naive)
    with pytest.raises(convert.ConversionError, match="out of range"):
        convert.to_message(return_request("p1", 2**63))
    until = pb.ExtendRequest(account=pb.Account(bank_code="ICBC"), change=pb.HOLD_CHANGE_RENEW_STOP)
    until.until.GetCurrentTime()
    for message, match in (
        (pb.ExtendRequest(account=pb.Account(bank_code="ICBC"), change=pb.HOLD_CHANGE_RENEW_STOP), "until is required"),
        (pb.ExtendRequest(change=pb.HOLD_CHANGE_RENEW_STOP, until=until.until), "account is required"),
        (pb.ExtendRequest(account=pb.Account(bank_code="ICBC"), change=42, until=until.until), "change"),
        (pb.ExtendRequest(account=pb.Account(bank_code="ICBC"), until=until.until), "change"),
        (pb.ReturnRequest(account=pb.Account(bank_code="ICBC")), "beneficiary is required"),
        (pb.ReturnRequest(beneficiary=pb.Account(bank_code="ICBC")), "account is required"),
        (pb.ExtendAnswer(status=42), "status"),
        (pb.ReturnAnswer(status=pb.ANSWER_STATUS_UNSPECIFIED), "status"),
    ):
        with pytest.raises(convert.ConversionError, match=match):
            convert.from_message(message)


def test_nanoseconds_a_datetime_cannot_hold_are_dropped() -> None:
    message = pb.IncomingTransfer(txn_id="T", amount_minor=1)
    message.transferred_at.FromNanoseconds(1_700_000_000_123_456_789)
    request = convert.from_message(
        pb.FreezeRequest(idempotency_key="k", account=pb.Account(bank_code="ICBC"), incoming=[message])
    )
    assert request.incoming[0].transferred_at == datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)


# ---- the factory and its registration ------------------------------------------------------------


def test_factory_options() -> None:
    banks = remote.create({"target": "bank.example:443", "banks": " ICBC, ABC ,", "insecure": "true"})
    assert banks.bank_codes == frozenset({"ICBC", "ABC"}) and banks.deadline_s == 5
    assert remote.create({"target": "localhost:1", "banks": ["ICBC"], "deadline_s": 0.5}).deadline_s == 0.5
    for options, match in (
        ({"banks": ["ICBC"]}, "'target'"),
        ({"target": "h:1"}, "'banks'"),
        ({"target": "h:1", "banks": ""}, "names no bank"),
        ({"target": "h:1", "banks": ["ICBC"], "deadline_s": 0}, "positive"),
        ({"target": "h:1", "banks": ["ICBC"], "deadline_s": "soon"}, "number"),
        ({"target": "h:1", "banks": ["ICBC"], "deadline": 5}, "unknown options"),
    ):
        with pytest.raises(ValueError, match=match):
            remote.create(options)


def test_the_grpc_adapter_is_declared_as_an_entry_point() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    value = project["project"]["entry-points"]["stopay.bank_adapters"]["grpc"]
    assert EntryPoint("grpc", value, "stopay.bank_adapters").load() is remote.create
    assert registry.load_factory("grpc") is remote.create  # as installed
    assert "remote/v1/*.pyi" in project["tool"]["setuptools"]["package-data"]["bank_adapters"]


# ---- the command ---------------------------------------------------------------------------------


async def test_bank_sim_command_serves_a_scenario_until_sigterm(tmp_path: Path) -> None:
    epoch = datetime.now(UTC).replace(microsecond=0)
    network = tmp_path / "xue.json"
    network.write_text(json.dumps({**XUE, "epoch": epoch.isoformat()}, ensure_ascii=False), encoding="utf-8")
    port_file = tmp_path / "port"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "stopay.cli.main",
        "bank-sim",
        "--insecure",
        "--bank-network",
        str(network),
        "--listen",
        "127.0.0.1:0",
        "--port-file",
        str(port_file),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "GRPC_ENABLE_FORK_SUPPORT": "false"},
    )
    try:

        async def started() -> bool:
            assert process.returncode is None, "bank-sim did not start"
            return port_file.exists()

        await eventually(started, timeout_s=30)
        port = int(port_file.read_text())
        banks = remote.create({"target": f"127.0.0.1:{port}", "banks": XUE_BANKS})
        try:
            statement = await banks.statement(statement_request("k1/statement", incoming=incoming("XUE-T1", epoch)))
            assert statement.status == AnswerStatus.ACCR and statement.balance_minor == 35_000_000
            frozen = await banks.freeze(freeze_request("k1", 35_000_000, incoming=incoming("XUE-T1", epoch)))
            assert (frozen.status, frozen.held_minor) == (AnswerStatus.ACCR, 35_000_000)
            assert await banks.freeze_status("k1", L1) == frozen
        finally:
            await banks.close()
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 15)
        assert process.returncode == 0, stderr.decode()
        assert f"on port {port}" in stderr.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_bank_sim_command_reports_a_missing_scenario(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "stopay.cli.main",
        "bank-sim",
        "--insecure",
        "--bank-network",
        str(tmp_path / "none.json"),
        "--listen",
        "127.0.0.1:0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert stderr.decode().startswith("stopay bank-sim:") and "none.json" in stderr.decode()

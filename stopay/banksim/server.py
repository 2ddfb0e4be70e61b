"""A ``RemoteBank`` server over the simulated world of one scenario: every bank of the scenario is
served from one port.

Each bank answers as :class:`~bank_adapters.simulated.adapter.SimulatedBanks` makes it: after its
``latency_ms``, from the world's state at that moment; during one of its ``outages`` every call for
it fails with ``UNAVAILABLE``. A malformed request (no idempotency key, no account, an incoming
transfer without a time, ...) fails with ``INVALID_ARGUMENT``.

Banks in ``"mode": "callback"`` answer ``Freeze`` with ``PDCR`` at once. After the bank's latency
the world decides, and the real answer goes to stopay's ``BankGateway.ReportFreezeOutcome`` at the
``callback`` address, under the freeze's idempotency key, retried with full-jitter exponential
backoff for as long as stopay is unreachable. A resend of that freeze gets ``PDCR`` while the
world has not decided and the real answer after; it never holds twice nor reports twice.
Statements, releases, extends and returns are answered synchronously in both modes.

``FreezeStatus`` (pacs.028) answers at once (outages aside) from what this server answered under
the key, without the bank's latency, so that it can tell a freeze still being worked on: the answer
once decided, ``PDCR`` while a freeze under that key is accepted but not decided, ``NOT_FOUND`` when no
freeze under that key was ever accepted (for that account).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from os import PathLike
from typing import Any, NoReturn, TypeVar

import grpc
import structlog
from google.protobuf import timestamp_pb2
from grpc_reflection.v1alpha import reflection
from tenacity import AsyncRetrying, retry_if_exception, wait_random_exponential

from bank_adapters.protocol import (
    Account,
    AnswerStatus,
    BankUnavailable,
    FreezeAnswer,
    FreezeRequest,
    Statement,
)
from bank_adapters.remote import convert
from bank_adapters.remote.v1 import remote_bank_pb2 as pb
from bank_adapters.remote.v1 import remote_bank_pb2_grpc
from bank_adapters.simulated.adapter import SimulatedBanks, utc_now
from bank_adapters.simulated.adapter import create as create_simulated
from bank_adapters.simulated.scenario import Scenario
from stopay.api.convert import ANSWER_STATUS, EXIT_KIND, LINE_KIND, ORDER_STATUS
from stopay.api.tls import TlsFiles, channel_credentials
from stopay.banksim.tally import Tally
from stopay.domain.identity import NotAnIdentity, Role, identity_of
from stopay.security.pki import identity_uris
from stopay.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc

__all__ = ["BankSim", "BankSimServicer", "CallbackReporter", "outcome_message", "serve"]

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]
Network = str | PathLike[str] | Scenario | Mapping[str, Any]
T = TypeVar("T")

TRANSIENT_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)
OUTAGE_POLL_S = 0.1  # a callback bank that went down after accepting finishes once it is up again
_CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1000),
)


# ---- callbacks -----------------------------------------------------------------------------------


def _timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(moment)
    return ts


def _reported_statement(statement: Statement) -> gateway_pb2.ReportedStatement:
    return gateway_pb2.ReportedStatement(
        opening_balance_minor=statement.opening_balance_minor,
        lines=[
            gateway_pb2.ReportedLine(
                seq=line.seq,
                at=_timestamp(line.at),
                kind=LINE_KIND.number(line.kind),
                amount_minor=line.amount_minor,
                txn_id=line.txn_id,
                counterparty=None
                if line.counterparty is None
                else common_pb2.AccountRef(
                    bank_code=line.counterparty.bank_code,
                    number=line.counterparty.number,
                    holder_name=line.counterparty.holder_name,
                ),
                exit=common_pb2.EXIT_KIND_UNSPECIFIED if line.exit is None else EXIT_KIND.number(line.exit),
            )
            for line in statement.lines
        ],
    )


def outcome_message(bank_code: str, idempotency_key: str, answer: FreezeAnswer) -> gateway_pb2.FreezeOutcome:
    """The ``BankGateway.ReportFreezeOutcome`` report of a freeze answer."""
    detail = answer.extra.get("detail", "") if answer.extra else ""
    return gateway_pb2.FreezeOutcome(
        idempotency_key=idempotency_key,
        bank_code=bank_code,
        status=ANSWER_STATUS.number(answer.status),
        held_minor=answer.held_minor,
        balance_minor=answer.balance_minor or 0,
        reason_code=answer.reason_code,
        bank_reference=answer.bank_reference,
        detail=str(detail),
        statement=None if answer.statement is None else _reported_statement(answer.statement),
    )


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, grpc.aio.AioRpcError) and exc.code() in TRANSIENT_CODES


class CallbackReporter:
    """Reports freeze outcomes to stopay's ``BankGateway`` at ``target``.

    Each call has a deadline of ``deadline_s``. While stopay is unreachable (``UNAVAILABLE``,
    ``DEADLINE_EXCEEDED``, ``RESOURCE_EXHAUSTED``) the report is sent again after a full-jitter
    exponential backoff (``backoff_base_s`` doubling, at most ``backoff_max_s``) until it is
    acknowledged or the server stops; any other error is logged and the report given up.
    """

    def __init__(
        self,
        target: str,
        *,
        deadline_s: float = 5.0,
        backoff_base_s: float = 0.1,
        backoff_max_s: float = 5.0,
        tls: TlsFiles | None = None,
    ) -> None:
        self.target = target
        self._deadline_s = deadline_s
        self._wait = wait_random_exponential(multiplier=backoff_base_s, max=backoff_max_s)
        self._tls = tls
        self._channels: dict[str, grpc.aio.Channel] = {}
        self.retries = 0  # reports sent again because stopay was unreachable

    def _stub(self, bank_code: str) -> gateway_pb2_grpc.BankGatewayStub:
        """Each bank calls back as itself: with TLS, under its own certificate ``bank-CODE.pem`` (and
        ``.key``) beside ``--tls-cert``, else under ``--tls-cert``."""
        key = bank_code if self._tls else ""
        channel = self._channels.get(key)
        if channel is None:
            if self._tls is None:
                channel = grpc.aio.insecure_channel(self.target, options=_CHANNEL_OPTIONS)
            else:
                channel = grpc.aio.secure_channel(
                    self.target, channel_credentials(bank_files(self._tls, bank_code)), options=_CHANNEL_OPTIONS
                )
            self._channels[key] = channel
        return gateway_pb2_grpc.BankGatewayStub(channel)

    async def report(
        self, bank_code: str, idempotency_key: str, answer: FreezeAnswer
    ) -> gateway_pb2.FreezeOutcomeAck | None:
        """Deliver one outcome; returns stopay's acknowledgement, or None if stopay refused it."""
        outcome = outcome_message(bank_code, idempotency_key, answer)
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(_transient), wait=self._wait, reraise=True, before_sleep=self._retrying
            ):
                with attempt:
                    ack: gateway_pb2.FreezeOutcomeAck = await self._stub(bank_code).ReportFreezeOutcome(
                        outcome, timeout=self._deadline_s
                    )
        except grpc.aio.AioRpcError as exc:
            log.error(
                "banksim.callback_refused",
                bank=bank_code,
                idempotency_key=idempotency_key,
                code=exc.code().name,
                details=exc.details(),
            )
            return None
        log.info(
            "banksim.callback_delivered",
            bank=bank_code,
            idempotency_key=idempotency_key,
            status=ANSWER_STATUS.name(outcome.status),
            applied=ack.applied,
            order_status=ORDER_STATUS.name(ack.order_status),
        )
        return ack

    def _retrying(self, state: Any) -> None:
        self.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "banksim.callback_retry",
            attempt=state.attempt_number,
            code=exc.code().name if isinstance(exc, grpc.aio.AioRpcError) else repr(exc),
            wait_s=round(state.next_action.sleep, 3) if state.next_action else None,
        )

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()


# ---- the servicer --------------------------------------------------------------------------------


class BankSimServicer(remote_bank_pb2_grpc.RemoteBankServicer):
    """``RemoteBank`` over one :class:`SimulatedBanks`; see the module documentation."""

    def __init__(
        self, banks: SimulatedBanks, reporter: CallbackReporter | None = None, *, clock: Clock = utc_now
    ) -> None:
        self._banks = banks
        self.tally = Tally()  # every freeze request, counted by idempotency key
        self._reporter = reporter
        self._clock = clock
        self._answers: dict[str, tuple[str, FreezeAnswer]] = {}  # key -> (account id, answer)
        self._accepted: dict[str, str] = {}  # callback freezes not yet decided: key -> account id
        self._in_flight: collections.Counter[str] = collections.Counter()  # sync freezes underway
        self._in_flight_account: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.callbacks_scheduled = 0

    @property
    def callbacks_underway(self) -> int:
        """Callback freezes not yet decided and reported (or given up)."""
        return len(self._tasks)

    # ---- RPCs -----------------------------------------------------------------------------------

    async def Statement(
        self,
        request: pb.StatementRequest,
        context: grpc.aio.ServicerContext,
    ) -> pb.StatementAnswer:
        parsed = await _parse(convert.statement_request_from_message, request, context)
        await _require_key(parsed.idempotency_key, parsed.account, context)
        try:
            answer = await self._banks.statement(parsed)
        except BankUnavailable as exc:
            await _unavailable(context, exc)
        return convert.statement_answer_to_message(answer)

    async def Freeze(
        self,
        request: pb.FreezeRequest,
        context: grpc.aio.ServicerContext,
    ) -> pb.FreezeAnswer:
        parsed = await _parse(convert.freeze_request_from_message, request, context)
        await _require_key(parsed.idempotency_key, parsed.account, context)
        self.tally.freeze(parsed)
        if self.mode(parsed.account.bank_code) == "callback":
            return convert.freeze_answer_to_message(await self._freeze_later(parsed, context))
        key = parsed.idempotency_key
        self._in_flight[key] += 1
        self._in_flight_account[key] = parsed.account.id
        try:
            answer = await self._banks.freeze(parsed)
        except BankUnavailable as exc:
            await _unavailable(context, exc)
        finally:
            self._in_flight[key] -= 1
            if not self._in_flight[key]:
                del self._in_flight[key]
                self._in_flight_account.pop(key, None)
        self._answers.setdefault(key, (parsed.account.id, answer))
        return convert.freeze_answer_to_message(answer)

    # A release, an extension and a return are answered at once by every bank, callback-mode ones
    # too: only a freeze goes through the PDCR-then-ReportFreezeOutcome flow (the gateway reports
    # freezes only).

    async def Release(
        self,
        request: pb.ReleaseRequest,
        context: grpc.aio.ServicerContext,
    ) -> pb.ReleaseAnswer:
        return await self._at_once(
            request,
            context,
            convert.release_request_from_message,
            self._banks.release,
            convert.release_answer_to_message,
        )

    async def Extend(
        self,
        request: pb.ExtendRequest,
        context: grpc.aio.ServicerContext,
    ) -> pb.ExtendAnswer:
        return await self._at_once(
            request, context, convert.extend_request_from_message, self._banks.extend, convert.extend_answer_to_message
        )

    async def ReturnFunds(
        self,
        request: pb.ReturnRequest,
        context: grpc.aio.ServicerContext,
    ) -> pb.ReturnAnswer:
        return await self._at_once(
            request,
            context,
            convert.return_request_from_message,
            self._banks.return_funds,
            convert.return_answer_to_message,
        )

    async def _at_once(
        self,
        request: Any,
        context: grpc.aio.ServicerContext,
        parse: Callable[[Any], Any],
        call: Callable[[Any], Awaitable[Any]],
        to_message: Callable[[Any], Any],
    ) -> Any:
        parsed = await _parse(parse, request, context)
        await _require_key(parsed.idempotency_key, parsed.account, context)
        try:
            answer = await call(parsed)
        except BankUnavailable as exc:
            await _unavailable(context, exc)
        return to_message(answer)

    async def FreezeStatus(
        self,
        request: pb.FreezeStatusRequest,
        context: grpc.aio.ServicerContext,
    ) -> pb.FreezeAnswer:
        key, account = await _parse(convert.freeze_status_request_from_message, request, context)
        await _require_key(key, account, context)
        await self._check_open(account.bank_code, context)
        if key in self._answers and self._answers[key][0] == account.id:
            return convert.freeze_answer_to_message(self._answers[key][1])
        if self._accepted.get(key) == account.id or self._in_flight_account.get(key) == account.id:
            return convert.freeze_answer_to_message(_pending())
        await context.abort(grpc.StatusCode.NOT_FOUND, f"no freeze under idempotency key {key!r} for this account")
        raise AssertionError("unreachable")  # context.abort raises

    # ---- callback mode --------------------------------------------------------------------------

    def mode(self, bank_code: str) -> str:
        """``sync`` or ``callback``, as the scenario says (``sync`` for a bank it does not list)."""
        if bank_code not in self._banks.bank_codes:
            return "sync"
        return self._banks.world.scenario.bank(bank_code).mode

    async def _freeze_later(self, request: FreezeRequest, context: grpc.aio.ServicerContext) -> FreezeAnswer:
        await self._check_open(request.account.bank_code, context)
        key = request.idempotency_key
        if key in self._answers:
            return self._answers[key][1]
        if key not in self._accepted:
            self._accepted[key] = request.account.id
            self.callbacks_scheduled += 1
            task = asyncio.create_task(self._decide_and_report(request), name=f"banksim-callback-{key}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return _pending()

    async def _decide_and_report(self, request: FreezeRequest) -> None:
        key, code = request.idempotency_key, request.account.bank_code
        try:
            while True:
                try:
                    answer = await self._banks.freeze(request)  # after the bank's latency
                    break
                except BankUnavailable:
                    await asyncio.sleep(OUTAGE_POLL_S)
            self._answers[key] = (request.account.id, answer)
            del self._accepted[key]
            if self._reporter is None:
                log.warning(
                    "banksim.no_callback_address",
                    bank=code,
                    idempotency_key=key,
                    hint="start bank-sim with --callback HOST:PORT",
                )
                return
            await self._reporter.report(code, key, answer)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("banksim.callback_failed", bank=code, idempotency_key=key)

    async def close(self) -> None:
        """Cancel the callbacks still underway (this server's state is in memory only)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # ---- helpers --------------------------------------------------------------------------------

    async def _check_open(self, bank_code: str, context: grpc.aio.ServicerContext) -> None:
        if self._banks.world.in_outage(bank_code, self._clock()):
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"bank {bank_code} is in an outage")


def _pending() -> FreezeAnswer:
    return FreezeAnswer(
        status=AnswerStatus.PDCR,
        extra={"detail": "accepted; the outcome follows through BankGateway.ReportFreezeOutcome"},
    )


async def _parse(fn: Callable[[Any], T], message: Any, context: grpc.aio.ServicerContext) -> T:
    try:
        return fn(message)
    except convert.ConversionError as exc:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        raise  # context.abort raises


async def _require_key(key: str, account: Account, context: grpc.aio.ServicerContext) -> None:
    if not key.strip():
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "idempotency_key is required")
    if not account.bank_code:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "account.bank_code is required")


async def _unavailable(context: grpc.aio.ServicerContext, exc: Exception) -> NoReturn:
    await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
    raise AssertionError("unreachable")  # context.abort raises


# ---- the server ----------------------------------------------------------------------------------


class BankSim:
    """A running bank-sim: the gRPC ``server`` on ``port`` and the simulated ``banks`` behind it."""

    def __init__(
        self,
        server: grpc.aio.Server,
        port: int,
        servicer: BankSimServicer,
        banks: SimulatedBanks,
        reporter: CallbackReporter | None,
    ) -> None:
        self.server = server
        self.port = port
        self.servicer = servicer
        self.banks = banks
        self.reporter = reporter

    @property
    def bank_codes(self) -> frozenset[str]:
        return self.banks.bank_codes

    async def stop(self, grace: float | None = None) -> None:
        """Refuse new calls, give calls in progress ``grace`` seconds, then drop the callbacks
        still underway."""
        await self.server.stop(grace)
        await self.servicer.close()
        if self.reporter is not None:
            await self.reporter.close()
        await self.banks.close()

    async def wait_for_termination(self) -> None:
        await self.server.wait_for_termination()


def bank_files(tls: TlsFiles, bank_code: str) -> TlsFiles:
    own = tls.cert.with_name(f"bank-{bank_code}.pem")
    if own.is_file() and own.with_suffix(".key").is_file():
        return TlsFiles(tls.ca, own, own.with_suffix(".key"))
    return tls


class ServiceOnly(grpc.aio.ServerInterceptor):
    """With TLS, a bank's gateway answers stopay alone: a certificate of the CA that names anyone but
    the service (``stopay://service/NAME``), a station's or an officer's, is refused."""

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]], details: grpc.HandlerCallDetails
    ) -> Any:
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary

        async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            pem = (context.auth_context() or {}).get("x509_pem_cert")
            try:
                identity = identity_of(identity_uris(pem[0])) if pem else None
            except NotAnIdentity:
                identity = None
            if identity is None or identity.role is not Role.SERVICE:
                await context.abort(
                    grpc.StatusCode.PERMISSION_DENIED,
                    f"only stopay's service certificate may call a bank, not {identity or 'this caller'}",
                )
            return await inner(request, context)

        return handler._replace(unary_unary=unary_unary)


def _server_credentials(tls: TlsFiles) -> grpc.ServerCredentials:
    """The banks' side of mutual TLS: only a caller with a certificate of the CA (stopay) gets in."""
    return grpc.ssl_server_credentials(
        [(tls.key.read_bytes(), tls.cert.read_bytes())], root_certificates=tls.ca.read_bytes(), require_client_auth=True
    )


async def serve(
    network_path: Network,
    listen: str,
    callback: str | None = None,
    *,
    epoch: datetime | None = None,
    clock: Clock = utc_now,
    callback_deadline_s: float = 5.0,
    callback_backoff_max_s: float = 5.0,
    tls: TlsFiles | None = None,
) -> tuple[BankSim, int]:
    """Serve every bank of the scenario ``network_path`` (a path, a parsed
    :class:`~bank_adapters.simulated.scenario.Scenario` or its JSON dict) as ``RemoteBank`` on
    ``listen`` (``HOST:PORT``; port 0 picks one). Callback-mode banks report to stopay's
    ``BankGateway`` at ``callback`` (``HOST:PORT``). ``epoch`` overrides the scenario's time zero
    (default: the scenario's, else now).

    Returns the running :class:`BankSim` (``await sim.stop(grace)`` ends it) and the port.
    Raises ``ScenarioError`` (a ``ValueError``) for a bad scenario and ``OSError`` when it cannot
    listen on ``listen``.
    """
    options: dict[str, Any] = {"network": network_path, "clock": clock}
    if epoch is not None:
        options["epoch"] = epoch
    banks = create_simulated(options)
    reporter = (
        None
        if not callback
        else CallbackReporter(callback, deadline_s=callback_deadline_s, backoff_max_s=callback_backoff_max_s, tls=tls)
    )
    servicer = BankSimServicer(banks, reporter, clock=clock)
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)], interceptors=[ServiceOnly()] if tls else [])
    remote_bank_pb2_grpc.add_RemoteBankServicer_to_server(servicer, server)
    # grpcurl and other generic clients read the RemoteBank service from the server itself.
    reflection.enable_server_reflection(
        (pb.DESCRIPTOR.services_by_name["RemoteBank"].full_name, reflection.SERVICE_NAME), server
    )
    try:
        port = server.add_secure_port(listen, _server_credentials(tls)) if tls else server.add_insecure_port(listen)
    except RuntimeError as exc:
        port, problem = 0, str(exc)
    else:
        problem = ""
    if port == 0:
        if reporter is not None:
            await reporter.close()
        raise OSError(f"bank-sim: cannot listen on {listen}" + (f": {problem}" if problem else ""))
    await banks.start()
    await server.start()
    callback_banks = sorted(c for c in banks.bank_codes if servicer.mode(c) == "callback")
    if callback_banks and reporter is None:
        log.warning(
            "banksim.callback_banks_without_address",
            banks=callback_banks,
            hint="their outcomes are kept for FreezeStatus only; pass --callback HOST:PORT",
        )
    log.info(
        "banksim.serving",
        port=port,
        banks=sorted(banks.bank_codes),
        callback_banks=callback_banks,
        callback=callback or None,
    )
    return BankSim(server, port, servicer, banks, reporter), port

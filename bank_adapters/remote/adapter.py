"""The ``grpc`` bank adapter: every request goes to one ``bank_adapters.remote.v1.RemoteBank`` server
(a bank, a bank's gateway, or ``stopay bank-sim``) over a gRPC channel, each call with a deadline.

Registered as the entry point ``grpc`` of the group ``stopay.bank_adapters``. Options::

    {"target": "host:port", "banks": ["ICBC", "ABC"] or "ICBC,ABC", "deadline_s": 5}

gRPC errors become the protocol's exceptions:

* ``UNAVAILABLE``, ``DEADLINE_EXCEEDED``, ``RESOURCE_EXHAUSTED`` -> :class:`BankUnavailable` (may
  pass: stopay sends the request again later, under the same idempotency key);
* every other code (``INVALID_ARGUMENT``, ``INTERNAL``, ``UNIMPLEMENTED``, ...) ->
  :class:`BankRefused` (will not pass by resending soon). So does a request this side cannot put
  into a message (e.g. a naive time) and an answer that cannot be read (e.g. an unknown status).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import grpc

from bank_adapters.protocol import (
    Account,
    BankRefused,
    BankUnavailable,
    ExtendAnswer,
    ExtendRequest,
    FreezeAnswer,
    FreezeRequest,
    ReleaseAnswer,
    ReleaseRequest,
    ReturnAnswer,
    ReturnRequest,
    StatementAnswer,
    StatementRequest,
)
from bank_adapters.remote import convert
from bank_adapters.remote.v1 import remote_bank_pb2_grpc

__all__ = ["DEFAULT_DEADLINE_S", "TRANSIENT_CODES", "RemoteBanks", "create"]

DEFAULT_DEADLINE_S = 5.0
OPTIONS = frozenset({"target", "banks", "deadline_s", "tls_ca", "tls_cert", "tls_key", "insecure"})
TLS_OPTIONS = ("tls_ca", "tls_cert", "tls_key")
TRANSIENT_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)
# A bank that was down is called again soon after it is back: the channel reconnects within about
# a second instead of gRPC's default backoff of up to two minutes.
_CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1000),
)

A = TypeVar("A")


class RemoteBanks:
    """The banks ``bank_codes``, all reached through the RemoteBank server at ``target``.

    Every call carries a deadline of ``deadline_s`` seconds and fails fast (no waiting for the
    server to come up) so that stopay's own retry schedule decides when to try again.
    """

    def __init__(
        self,
        target: str,
        bank_codes: Iterable[str],
        *,
        deadline_s: float = DEFAULT_DEADLINE_S,
        tls: tuple[bytes, bytes, bytes] | None = None,
    ) -> None:
        """``tls``: (CA, certificate, key) in PEM for mutual TLS; None speaks plain text."""
        if not target:
            raise ValueError("grpc adapter: target must be host:port")
        codes = frozenset(bank_codes)
        if not codes:
            raise ValueError("grpc adapter: at least one bank code is required")
        if not deadline_s > 0:
            raise ValueError("grpc adapter: deadline_s must be a positive number of seconds")
        self._target = target
        self._codes = codes
        self._deadline_s = float(deadline_s)
        self._channel: grpc.aio.Channel | None = None
        self._stub: remote_bank_pb2_grpc.RemoteBankStub | None = None
        self._tls = tls

    @property
    def bank_codes(self) -> frozenset[str]:
        return self._codes

    @property
    def target(self) -> str:
        return self._target

    @property
    def deadline_s(self) -> float:
        return self._deadline_s

    async def start(self) -> None:
        """Open the channel (it connects on the first call)."""
        if self._channel is None:
            if self._tls:
                ca, cert, key = self._tls
                credentials = grpc.ssl_channel_credentials(
                    root_certificates=ca, private_key=key, certificate_chain=cert
                )
                self._channel = grpc.aio.secure_channel(self._target, credentials, options=_CHANNEL_OPTIONS)
            else:
                self._channel = grpc.aio.insecure_channel(self._target, options=_CHANNEL_OPTIONS)
            self._stub = remote_bank_pb2_grpc.RemoteBankStub(self._channel)

    async def close(self) -> None:
        if self._channel is not None:
            channel, self._channel, self._stub = self._channel, None, None
            await channel.close()

    async def statement(self, request: StatementRequest) -> StatementAnswer:
        stub = await self._ready()
        return await self._call(
            "Statement",
            request.account.bank_code,
            stub.Statement,
            lambda: convert.statement_request_to_message(request),
            convert.statement_answer_from_message,
        )

    async def freeze(self, request: FreezeRequest) -> FreezeAnswer:
        stub = await self._ready()
        return await self._call(
            "Freeze",
            request.account.bank_code,
            stub.Freeze,
            lambda: convert.freeze_request_to_message(request),
            convert.freeze_answer_from_message,
        )

    async def release(self, request: ReleaseRequest) -> ReleaseAnswer:
        stub = await self._ready()
        return await self._call(
            "Release",
            request.account.bank_code,
            stub.Release,
            lambda: convert.release_request_to_message(request),
            convert.release_answer_from_message,
        )

    async def extend(self, request: ExtendRequest) -> ExtendAnswer:
        stub = await self._ready()
        return await self._call(
            "Extend",
            request.account.bank_code,
            stub.Extend,
            lambda: convert.extend_request_to_message(request),
            convert.extend_answer_from_message,
        )

    async def return_funds(self, request: ReturnRequest) -> ReturnAnswer:
        stub = await self._ready()
        return await self._call(
            "ReturnFunds",
            request.account.bank_code,
            stub.ReturnFunds,
            lambda: convert.return_request_to_message(request),
            convert.return_answer_from_message,
        )

    async def freeze_status(self, idempotency_key: str, account: Account) -> FreezeAnswer | None:
        """pacs.028: the bank's answer to the freeze sent under ``idempotency_key`` (``PDCR`` while
        it is still being worked on), or ``None`` when the bank never received that freeze (it is
        safe to send it again under the same key)."""
        stub = await self._ready()
        try:
            return await self._call(
                "FreezeStatus",
                account.bank_code,
                stub.FreezeStatus,
                lambda: convert.freeze_status_request_to_message(idempotency_key, account),
                convert.freeze_answer_from_message,
            )
        except BankRefused as exc:
            cause = exc.__cause__
            if isinstance(cause, grpc.aio.AioRpcError) and cause.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise

    async def _ready(self) -> remote_bank_pb2_grpc.RemoteBankStub:
        if self._stub is None:
            await self.start()
        assert self._stub is not None
        return self._stub

    async def _call(
        self,
        method: str,
        bank_code: str,
        rpc: Callable[..., Awaitable[Any]],
        request: Callable[[], Any],
        answer: Callable[[Any], A],
    ) -> A:
        where = f"bank {bank_code} via {self._target}: {method}"
        try:
            message = request()
        except convert.ConversionError as exc:
            raise BankRefused(f"{where}: the request cannot be sent: {exc}") from exc
        try:
            reply = await rpc(message, timeout=self._deadline_s)
        except grpc.aio.AioRpcError as exc:
            text = f"{where}: {exc.code().name}: {exc.details()}"
            if exc.code() in TRANSIENT_CODES:
                raise BankUnavailable(text) from exc
            raise BankRefused(text) from exc
        try:
            return answer(reply)
        except convert.ConversionError as exc:
            raise BankRefused(f"{where}: the answer cannot be read: {exc}") from exc


def create(options: Mapping[str, Any]) -> RemoteBanks:
    """Adapter factory. Options: ``target`` (``host:port`` of the RemoteBank server, required),
    ``banks`` (the bank codes it serves: a list, or one comma-separated string; required) and
    ``deadline_s`` (seconds each call may take, default 5); ``tls_ca``, ``tls_cert`` and ``tls_key``
    (PEM files) for mutual TLS, else plain text, which a target not on this machine needs
    ``insecure=true`` for."""
    unknown = set(options) - OPTIONS
    if unknown:
        raise ValueError(f"grpc adapter: unknown options {sorted(unknown)}; known: {sorted(OPTIONS)}")
    target = options.get("target")
    if not isinstance(target, str) or not target.strip():
        raise ValueError("grpc adapter: option 'target' (host:port) is required")
    banks = options.get("banks")
    if isinstance(banks, str):
        banks = banks.split(",")
    if not isinstance(banks, list | tuple | set | frozenset) or not all(isinstance(b, str) for b in banks):
        raise ValueError("grpc adapter: option 'banks' must be a list of bank codes or 'CODE,CODE'")
    codes = [b.strip() for b in banks if b.strip()]
    if not codes:
        raise ValueError("grpc adapter: option 'banks' names no bank")
    deadline = options.get("deadline_s", DEFAULT_DEADLINE_S)
    try:
        deadline_s = float(deadline)
    except (TypeError, ValueError):
        raise ValueError(f"grpc adapter: deadline_s must be a number of seconds, got {deadline!r}") from None
    if isinstance(deadline, bool) or not deadline_s > 0 or deadline_s == float("inf"):
        raise ValueError(f"grpc adapter: deadline_s must be a positive number of seconds, got {deadline!r}")
    tls = _tls(options)
    if tls is None and not _loopback(target.strip()) and str(options.get("insecure", "")).lower() not in ("1", "true"):
        raise ValueError(
            f"grpc adapter: {target.strip()} is not on this machine: give tls_ca, tls_cert and tls_key "
            "(or insecure=true for plain text)"
        )
    return RemoteBanks(target.strip(), codes, deadline_s=deadline_s, tls=tls)


def _loopback(target: str) -> bool:
    host = target.rpartition(":")[0].strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _tls(options: Mapping[str, Any]) -> tuple[bytes, bytes, bytes] | None:
    """Mutual TLS from the files ``tls_ca``, ``tls_cert`` and ``tls_key``: any of them named asks for
    TLS, and then all three are needed (an empty one is never "no TLS")."""
    if not any(name in options for name in TLS_OPTIONS):
        return None
    given = [options.get(name) for name in TLS_OPTIONS]
    if not all(isinstance(path, str) and path for path in given):
        raise ValueError("grpc adapter: tls_ca, tls_cert and tls_key go together, none of them empty")
    ca, cert, key = (Path(str(path)) for path in given)
    try:
        return ca.read_bytes(), cert.read_bytes(), key.read_bytes()
    except OSError as exc:
        raise ValueError(f"grpc adapter: cannot read {exc.filename}: {exc.strerror}") from None

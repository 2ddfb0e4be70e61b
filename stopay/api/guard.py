"""The one server interceptor every call passes: who is calling (the certificate), may it (the
authorization table), is it within its quotas, can its request be decoded, is it about what it may
see; then the servicer runs with the caller known, inside the error boundary.

Refusals: UNAUTHENTICATED (no usable identity, a revoked certificate, an identity sent as metadata),
PERMISSION_DENIED (the table, a bound field naming someone else, a case of another station or
region), RESOURCE_EXHAUSTED with google.rpc.RetryInfo (quotas), INVALID_ARGUMENT (undecodable bytes).
Every denial is logged and counted.
"""

from __future__ import annotations

import contextlib
import inspect
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import grpc
import structlog
from google.protobuf import descriptor_pool, duration_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from stopay.api import callers
from stopay.api.boundary import status_for
from stopay.api.callers import Caller
from stopay.api.convert import EVENT_KIND
from stopay.api.errors import DOMAIN, invalid_argument, refusal
from stopay.api.quotas import Exhausted, Quotas, RateLimiter, StreamSlots
from stopay.api.tls import ServerTls, Unauthenticated
from stopay.api.validation import Violation
from stopay.api.wire import WHOLE, broken_field
from stopay.domain.authz import Cell, Denied, Scope, allowed_kinds, bound_value, cell_for, is_open
from stopay.domain.clock import Clock
from stopay.domain.identity import SCHEME, Identity

log = structlog.get_logger(__name__)
SERVICES = "/stopay."
CASE_READS = ("/stopay.v1.StationService/GetCase", "/stopay.v1.StationService/WatchCase")

CaseStation = Callable[[uuid.UUID], Awaitable[str | None]]


class _Refused(Exception):
    def __init__(self, status: grpc.Status, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _exhausted(exc: Exhausted) -> grpc.Status:
    status = status_pb2.Status(code=code_pb2.RESOURCE_EXHAUSTED, message=str(exc))
    delay = duration_pb2.Duration()
    delay.FromNanoseconds(max(1_000_000, int(exc.retry_after_s * 1e9)))
    status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    status.details.add().Pack(error_details_pb2.ErrorInfo(reason=exc.reason, domain=DOMAIN))
    return rpc_status.to_status(status)


def _set_field(message: Message, path: str, value: str) -> str:
    """Reads the string field at ``path`` ("by.officer_id") and sets it to ``value``; returns what it was."""
    *parents, leaf = path.split(".")
    for name in parents:
        message = getattr(message, name)
    given = getattr(message, leaf)
    setattr(message, leaf, value)
    return str(given)


class Guard(grpc.aio.ServerInterceptor):
    def __init__(
        self,
        tls: ServerTls | None,
        quotas: Quotas,
        case_station: CaseStation,
        clock: Clock,
        regions: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self._tls = tls
        self._case_station = case_station
        self._regions = dict(regions or {})
        self._rate = RateLimiter(quotas.rate_per_s, quotas.burst, clock.monotonic)
        self._streams = StreamSlots(quotas.streams_per_caller)
        self.denials: Counter[tuple[str, str]] = Counter()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method = details.method
        if handler is None:
            return handler
        if is_open(method):
            return self._open(handler, method)
        if handler.request_streaming or not method.startswith(SERVICES):  # none of stopay's own
            return _refuse_all(refusal(code_pb2.PERMISSION_DENIED, f"{method} is not open", "METHOD_NOT_ALLOWED"))
        decode, serialize = handler.request_deserializer, handler.response_serializer
        if handler.response_streaming:
            inner_stream = handler.unary_stream

            async def unary_stream(raw: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                caller, request = await self._admit(method, raw, decode, context)
                token = callers.set_current(caller)
                try:
                    with self._streams.hold(caller.actor("")) if caller.identity else contextlib.nullcontext():
                        async for item in inner_stream(request, context):
                            yield item
                except Exhausted as exc:
                    await self._abort(context, method, caller.identity, _exhausted(exc), exc.reason)
                except (grpc.aio.AbortError, GeneratorExit):
                    raise
                except Exception as exc:
                    await context.abort_with_status(status_for(exc, method))
                finally:
                    callers.reset_current(token)

            return grpc.unary_stream_rpc_method_handler(unary_stream, response_serializer=serialize)
        inner = handler.unary_unary

        async def unary_unary(raw: bytes, context: grpc.aio.ServicerContext) -> Any:
            caller, request = await self._admit(method, raw, decode, context)
            token = callers.set_current(caller)
            try:
                return await inner(request, context)
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await context.abort_with_status(status_for(exc, method))
            finally:
                callers.reset_current(token)

        return grpc.unary_unary_rpc_method_handler(unary_unary, response_serializer=serialize)

    def _open(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        """Health checking and reflection: open to every caller with a certificate that is not revoked,
        within its rate; a health watch holds one of its stream slots."""

        async def admitted(context: grpc.aio.ServicerContext) -> str:
            identity: Identity | None = None
            try:
                identity = self._authenticate(context)
                if identity is not None:
                    self._rate.take(identity.uri)
            except _Refused as exc:
                await self._abort(context, method, identity, exc.status, exc.reason)
            except Exhausted as exc:
                await self._abort(context, method, identity, _exhausted(exc), exc.reason)
            return identity.uri if identity else ""

        if handler.unary_unary:
            inner = handler.unary_unary

            async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                await admitted(context)
                return await inner(request, context)

            return handler._replace(unary_unary=unary_unary)
        if handler.unary_stream:
            inner_stream = handler.unary_stream

            async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> None:
                who = await admitted(context)
                try:
                    with self._streams.hold(who) if who else contextlib.nullcontext():
                        await _streamed(inner_stream(request, context), context)
                except Exhausted as exc:
                    await self._abort(context, method, None, _exhausted(exc), exc.reason)

            return handler._replace(unary_stream=unary_stream)
        inner_bidi = handler.stream_stream

        async def stream_stream(requests: Any, context: grpc.aio.ServicerContext) -> None:
            await admitted(context)
            await _streamed(inner_bidi(requests, context), context)

        return handler._replace(stream_stream=stream_stream)

    async def _admit(
        self, method: str, raw: bytes, decode: Callable[[bytes], Any] | None, context: grpc.aio.ServicerContext
    ) -> tuple[Caller, Any]:
        """Authenticates, authorizes and decodes; aborts the call with the refusal otherwise."""
        identity: Identity | None = None
        try:
            identity = self._authenticate(context)
            if identity is not None:
                self._rate.take(identity.uri)  # refused calls count too: they cost a log line each
            cell = cell_for(method, identity) if identity else None
            request = _decode(decode, method, raw)
            caller = Caller(identity, cell, self._regions)
            if identity is not None and cell is not None:
                await self._within_scope(method, identity, cell, request, caller)
            return caller, request
        except _Refused as exc:
            await self._abort(context, method, identity, exc.status, exc.reason)
        except Denied as exc:
            await self._abort(
                context, method, identity, refusal(code_pb2.PERMISSION_DENIED, str(exc), exc.reason), exc.reason
            )
        except Exhausted as exc:
            await self._abort(context, method, identity, _exhausted(exc), exc.reason)
        except Exception as exc:
            await context.abort_with_status(status_for(exc, method))
        raise AssertionError("unreachable")

    def _authenticate(self, context: grpc.aio.ServicerContext) -> Identity | None:
        for key, value in context.invocation_metadata() or ():
            if isinstance(value, str) and SCHEME in value:
                raise _Refused(
                    rpc_status.to_status(
                        status_pb2.Status(
                            code=code_pb2.UNAUTHENTICATED,
                            message=f"metadata {key!r} names an identity; a caller is who its certificate says, "
                            "never what it sends",
                        )
                    ),
                    "IDENTITY_IN_METADATA",
                )
        if self._tls is None:
            return None
        pem = (context.auth_context() or {}).get("x509_pem_cert")
        if not pem:
            raise _Refused(_unauthenticated("no client certificate"), "NO_CERTIFICATE")
        try:
            return self._tls.identify(pem[0])
        except Unauthenticated as exc:
            raise _Refused(_unauthenticated(str(exc)), "CERTIFICATE_REFUSED") from exc

    async def _within_scope(self, method: str, identity: Identity, cell: Cell, request: Any, caller: Caller) -> None:
        if cell.bind is not None:
            given = _set_field(request, cell.bind, identity.name)
            bound_value(cell, identity, given)
        if cell.kinds:  # an event stream of some kinds only (ExportEvents)
            try:
                asked = [EVENT_KIND.name(n) for n in request.kinds]
            except ValueError:
                return  # the servicer names the field
            request.kinds[:] = [EVENT_KIND.number(k) for k in allowed_kinds(cell, asked)]
        if method in CASE_READS and cell.scope in (Scope.OWN_STATION, Scope.REGION):
            try:
                case_id = uuid.UUID(request.case_id)
            except ValueError:
                return  # the servicer names the field
            station = await self._case_station(case_id)
            # A case of another station and a case that does not exist are refused alike: neither
            # says whether the other exists.
            if station is None or not caller.may_see(station):
                raise Denied(
                    f"case {case_id} is not a case {identity} may read ({cell.scope.value} only)", "CASE_OUT_OF_SCOPE"
                )

    async def _abort(
        self,
        context: grpc.aio.ServicerContext,
        method: str,
        identity: Identity | None,
        status: grpc.Status,
        reason: str,
    ) -> None:
        self.denials[(method.rsplit("/", 1)[-1], reason)] += 1
        log.warning(
            "rpc.denied",
            method=method,
            caller=str(identity) if identity else context.peer(),
            reason=reason,
            code=status.code.name,
            denied=sum(self.denials.values()),
        )
        await context.abort_with_status(status)


def _unauthenticated(message: str) -> grpc.Status:
    return rpc_status.to_status(status_pb2.Status(code=code_pb2.UNAUTHENTICATED, message=message))


def _decode(decode: Callable[[bytes], Any] | None, method: str, raw: bytes) -> Any:
    """The request; bytes that are not one are INVALID_ARGUMENT naming the field where they go
    wrong (api/wire.py), whatever the decoder raised."""
    if decode is None:
        return raw
    try:
        return decode(raw)
    except Exception as exc:
        try:
            message = descriptor_pool.Default().FindMethodByName(method.strip("/").replace("/", ".")).input_type
        except KeyError:
            field, problem = WHOLE, "is not a valid encoding of the request"
        else:
            field, problem = broken_field(message, raw)
        raise _Refused(
            invalid_argument([Violation(field, f"{problem}: the request cannot be decoded")]), "UNDECODABLE_REQUEST"
        ) from exc


async def _streamed(answer: Any, context: grpc.aio.ServicerContext) -> None:
    """Runs a streaming handler written either way: an async generator (its items written here) or
    a coroutine that writes them itself (gRPC's health servicer)."""
    if inspect.isasyncgen(answer):
        async for item in answer:
            await context.write(item)
    else:
        await answer


def _refuse_all(status: grpc.Status) -> grpc.RpcMethodHandler:
    async def refuse(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort_with_status(status)

    return grpc.unary_unary_rpc_method_handler(refuse)

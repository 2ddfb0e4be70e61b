"""The metrics' edge (serve --metrics-listen): an interceptor that counts and times every RPC by
method and status code, and the HTTP endpoint Prometheus scrapes (``/metrics``) on a port of its
own. The metrics of one server live in its own registry (docs/operations.md#metrics)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from stopay.domain.clock import SYSTEM_CLOCK, Clock

log = structlog.get_logger(__name__)

# Seconds. A stream (WatchCase, ExportEvents, a health watch) is timed from its start to its end.
RPC_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class RpcMetrics(grpc.aio.ServerInterceptor):
    """The outermost interceptor: sees every call as its caller does, refusals by the guard too."""

    def __init__(self, registry: CollectorRegistry, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        self._handled = Counter(
            "stopay_rpcs_handled",
            "RPCs ended, by service, method and gRPC status code",
            ["service", "method", "code"],
            registry=registry,
        )
        self._seconds = Histogram(
            "stopay_rpc_duration_seconds",
            "How long RPCs took, from the request to the status, by service, method and gRPC status code",
            ["service", "method", "code"],
            buckets=RPC_BUCKETS,
            registry=registry,
        )
        # The children by (service, method, code), kept here: labels() looks them up under a lock.
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:  # no such method: gRPC answers UNIMPLEMENTED before any handler runs
            return handler
        service, _, method = details.method.strip("/").rpartition("/")
        ended = self._ended(service, method)
        if handler.unary_unary or handler.stream_unary:
            inner = handler.unary_unary or handler.stream_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                began, failed = self._clock.monotonic(), None
                try:
                    return await inner(request, context)
                except BaseException as exc:
                    failed = exc
                    raise
                finally:
                    ended(context, failed, began)

            if handler.unary_unary:
                return handler._replace(unary_unary=unary)
            return handler._replace(stream_unary=unary)
        inner_stream = handler.unary_stream or handler.stream_stream

        async def streamed(request: Any, context: grpc.aio.ServicerContext) -> None:
            began, failed = self._clock.monotonic(), None
            try:
                answer = inner_stream(request, context)
                if inspect.isasyncgen(answer):
                    # Closed however the call ends, so the guard's stream slot is given back at once.
                    async with contextlib.aclosing(answer) as items:
                        async for item in items:
                            await context.write(item)
                else:  # a coroutine that writes its items itself (gRPC's health and reflection)
                    await answer
            except BaseException as exc:
                failed = exc
                raise
            finally:
                ended(context, failed, began)

        if handler.unary_stream:
            return handler._replace(unary_stream=streamed)
        return handler._replace(stream_stream=streamed)

    def _ended(
        self, service: str, method: str
    ) -> Callable[[grpc.aio.ServicerContext, BaseException | None, float], None]:
        def ended(context: grpc.aio.ServicerContext, failed: BaseException | None, began: float) -> None:
            key = (service, method, status_code(context.code(), failed))
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = (self._handled.labels(*key), self._seconds.labels(*key))
            child[0].inc()
            child[1].observe(max(0.0, self._clock.monotonic() - began))

        return ended


def status_code(code: Any, failed: BaseException | None) -> str:
    """The name of the status the caller gets: the code the call set or aborted with; else OK when
    the handler returned, CANCELLED when the call was cancelled, UNKNOWN when the handler raised."""
    if isinstance(code, grpc.StatusCode):
        return code.name
    if isinstance(code, int):
        for known in grpc.StatusCode:
            if known.value[0] == code:
                return known.name
    if failed is None:
        return "OK"
    if isinstance(failed, asyncio.CancelledError):
        return "CANCELLED"
    return "UNKNOWN"


class MetricsEndpoint:
    """Serves ``GET /metrics`` over plain HTTP on ``listen`` (HOST:PORT, port 0 picks one). Before each
    scrape it awaits ``refresh`` (the gauges read from the database)."""

    def __init__(self, registry: CollectorRegistry, listen: str, refresh: Callable[[], Awaitable[None]]) -> None:
        self._registry = registry
        host, _, port = listen.rpartition(":")
        self._host = host.strip("[]")
        self._port = int(port)
        self._refresh = refresh
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._scrape)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        log.info("metrics.serving", host=self._host, port=self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _scrape(self, request: web.Request) -> web.Response:
        await self._refresh()
        return web.Response(body=generate_latest(self._registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

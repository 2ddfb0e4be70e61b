"""``stopay health --server HOST:PORT``: asks the server's gRPC health service, as a container's
HEALTHCHECK or an orchestrator's probe does. Exits 0 when it answers SERVING; otherwise prints one
line saying why and exits 1 (it answered something else) or 3 (no answer)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from stopay.cli.exits import REFUSED, UNREACHABLE, Failure


def add_parser(commands: Any, env: Any, default_server: str) -> None:
    from stopay.cli.connect import add_server_flag, add_tls_flags

    health = commands.add_parser("health", help="ask a server's gRPC health service: exit 0 when it is serving")
    add_server_flag(health, env, default_server)
    health.add_argument(
        "--service",
        default="",
        metavar="NAME",
        help="one service's status, e.g. stopay.v1.StationService (default: the server's as a whole)",
    )
    health.add_argument(
        "--timeout", type=_seconds, default=5.0, metavar="SECONDS", help="how long to wait for the answer (default 5)"
    )
    add_tls_flags(health, env, serving=False)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


async def check(args: argparse.Namespace) -> str:
    """The status's name (SERVING, NOT_SERVING, ...); Failure when the server does not answer."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from stopay.cli.connect import open_channel

    async with open_channel(args) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout)
        except grpc.aio.AioRpcError as exc:
            status = UNREACHABLE if exc.code().name in ("UNAVAILABLE", "DEADLINE_EXCEEDED") else REFUSED
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                raise Failure(REFUSED, f"{args.server}: no service {args.service!r} is known there") from exc
            said = f": {exc.details()}" if exc.details() else ""
            raise Failure(status, f"{args.server}: no answer: {exc.code().name}{said}") from exc
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


def run(args: argparse.Namespace) -> int:
    status = asyncio.run(check(args))
    if status != "SERVING":
        raise Failure(REFUSED, f"{args.server}: {status}")
    print(f"{args.server}: SERVING")
    return 0

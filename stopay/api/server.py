"""Builds the gRPC server: the servicers, health checking, server reflection, and a graceful stop."""

from __future__ import annotations

from collections.abc import Mapping

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from stopay.api.audit import AuditServicer
from stopay.api.gateway import BankGatewayServicer
from stopay.api.guard import Guard
from stopay.api.holds import HoldServicer
from stopay.api.metrics import RpcMetrics
from stopay.api.operator import OperatorServicer
from stopay.api.quotas import Quotas
from stopay.api.station import StationServicer
from stopay.api.tls import ServerTls, is_loopback
from stopay.domain.clock import SYSTEM_CLOCK, Clock
from stopay.service import Services
from stopay.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    gateway_pb2,
    gateway_pb2_grpc,
    holds_pb2,
    holds_pb2_grpc,
    operator_pb2,
    operator_pb2_grpc,
    station_pb2,
    station_pb2_grpc,
)

# gRPC's own default for the largest request, made explicit (serve --max-message-bytes).
MAX_MESSAGE_BYTES = 4 * 1024 * 1024

SERVICE_NAMES = (
    station_pb2.DESCRIPTOR.services_by_name["StationService"].full_name,
    gateway_pb2.DESCRIPTOR.services_by_name["BankGateway"].full_name,
    operator_pb2.DESCRIPTOR.services_by_name["OperatorService"].full_name,
    audit_pb2.DESCRIPTOR.services_by_name["AuditService"].full_name,
    holds_pb2.DESCRIPTOR.services_by_name["HoldService"].full_name,
)


class ApiServer:
    def __init__(
        self,
        services: Services,
        listen: str,
        clock: Clock = SYSTEM_CLOCK,
        tls: ServerTls | None = None,
        quotas: Quotas = Quotas(),
        regions: Mapping[str, tuple[str, ...]] | None = None,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        metrics: RpcMetrics | None = None,
    ) -> None:
        """``tls`` None serves plain text, and only on a loopback address: nobody is authenticated. A
        request larger than ``max_message_bytes`` is refused by gRPC itself, RESOURCE_EXHAUSTED.
        ``metrics``, when given, counts and times every call, the guard's refusals among them."""
        host = listen.rpartition(":")[0]
        if tls is None and not is_loopback(host):
            raise ValueError(f"plain-text gRPC only on a loopback address, not {host}: configure TLS")
        self.guard = Guard(tls, quotas, services.cases.station_of, clock, regions)
        self._server = grpc.aio.server(
            interceptors=[metrics, self.guard] if metrics else [self.guard],
            options=[
                ("grpc.so_reuseport", 0),
                ("grpc.max_receive_message_length", max_message_bytes),
            ],
        )
        station_pb2_grpc.add_StationServiceServicer_to_server(
            StationServicer(services.entries, services.cases, services.banks, clock), self._server
        )
        gateway_pb2_grpc.add_BankGatewayServicer_to_server(
            BankGatewayServicer(services.callbacks, services.objections), self._server
        )
        holds_pb2_grpc.add_HoldServiceServicer_to_server(
            HoldServicer(
                services.hold_steps, services.returns, services.approvals, services.objections, services.reviews
            ),
            self._server,
        )
        operator_pb2_grpc.add_OperatorServiceServicer_to_server(OperatorServicer(services.orders), self._server)
        audit_pb2_grpc.add_AuditServiceServicer_to_server(AuditServicer(services.audit, clock), self._server)
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        # grpcurl, Postman and other generic clients read the services and messages from the server.
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), self._server
        )
        self.tls = tls
        self._database_up = True
        self._stopping = True  # until started
        self.port = (
            self._server.add_secure_port(listen, tls.credentials()) if tls else self._server.add_insecure_port(listen)
        )
        if self.port == 0:
            raise OSError(f"cannot listen on {listen}")

    async def start(self) -> None:
        await self._server.start()
        self._stopping = False
        await self._report(serving=self._database_up)

    async def set_database(self, reachable: bool) -> None:
        """Whether a primary database can be reached: every service is NOT_SERVING while it cannot
        (each call would fail UNAVAILABLE), and SERVING again once it can."""
        self._database_up = reachable
        if not self._stopping:
            await self._report(serving=reachable)

    async def stop(self, grace_s: float) -> None:
        """Reports NOT_SERVING, refuses new calls, and gives calls in progress ``grace_s`` to end."""
        self._stopping = True
        await self._report(serving=False)
        await self._server.stop(grace_s)

    async def _report(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", *SERVICE_NAMES):
            await self._health.set(name, status)

    async def wait(self) -> None:
        await self._server.wait_for_termination()

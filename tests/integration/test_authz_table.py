"""The authorization table, cell by cell, over real TLS: every role against every method of every
stopay service. A role the table leaves out of a method is refused PERMISSION_DENIED before the
request is even looked at; a role it allows gets past the guard (here, to the request's validation)."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from stopay.api.server import SERVICE_NAMES
from stopay.domain.authz import TABLE
from stopay.domain.identity import Role
from stopay.v1 import audit_pb2, gateway_pb2, holds_pb2, operator_pb2, station_pb2
from tests.identities import Pki

MODULES = (station_pb2, gateway_pb2, holds_pb2, operator_pb2, audit_pb2)


def _methods() -> dict[str, bool]:
    """Every RPC of stopay's services -> whether it streams its answer."""
    found = {}
    for module in MODULES:
        for service in module.DESCRIPTOR.services_by_name.values():
            assert service.full_name in SERVICE_NAMES
            for method in service.methods:
                found[f"/{service.full_name}/{method.name}"] = method.server_streaming
    return found


def test_the_table_names_every_method_and_only_those() -> None:
    assert set(TABLE) == set(_methods())


def _reason(exc: grpc.aio.AioRpcError) -> str:
    status = rpc_status.from_call(exc)
    for detail in status.details if status else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    return ""


async def _call(channel: grpc.aio.Channel, method: str, streams: bool) -> tuple[grpc.StatusCode, str]:
    try:
        if streams:
            async for _ in channel.unary_stream(method)(b"", timeout=5):
                pass
        else:
            await channel.unary_unary(method)(b"", timeout=5)
    except grpc.aio.AioRpcError as exc:
        return exc.code(), _reason(exc)
    return grpc.StatusCode.OK, ""


async def test_every_cell_of_the_table(make_app, pki: Pki) -> None:
    app = await make_app(tls=pki.server)
    # The service's own role is only in the server's certificate (stopay://service/stopay).
    channels = {role: pki.as_(app.port, role.value, f"t-{role.value}") for role in Role if role is not Role.SERVICE}
    channels[Role.SERVICE] = pki.channel(app.port, pki.server)
    seen = []
    for method, streams in sorted(_methods().items()):
        for role, channel in channels.items():
            code, reason = await _call(channel, method, streams)
            allowed = role in TABLE[method]
            if allowed:
                assert code not in (
                    grpc.StatusCode.PERMISSION_DENIED,
                    grpc.StatusCode.UNAUTHENTICATED,
                    grpc.StatusCode.UNIMPLEMENTED,
                    grpc.StatusCode.INTERNAL,
                    grpc.StatusCode.UNKNOWN,
                ), (method, role, code, reason)
            else:
                assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "ROLE_NOT_ALLOWED"), (method, role)
            seen.append((method, role, allowed))
    assert len(seen) == len(_methods()) * len(Role)
    denied = sum(1 for _, _, allowed in seen if not allowed)
    assert sum(app.api.guard.denials.values()) == denied


@pytest.mark.parametrize("method", ["/stopay.v1.StationService/ListCases", "/stopay.v1.AuditService/VerifyLog"])
async def test_the_services_own_certificate_may_call_nothing(make_app, pki: Pki, method: str) -> None:
    """The server's own certificate is of the CA but names the service, which may call nothing."""
    app = await make_app(tls=pki.server)
    service = pki.channel(app.port, pki.server)
    code, reason = await _call(service, method, False)
    assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "ROLE_NOT_ALLOWED")

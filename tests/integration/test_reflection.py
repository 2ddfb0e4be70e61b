"""gRPC server reflection on a real server: generic clients (grpcurl, Postman) list the services and
read their messages without the .proto files, from the service and from bank-sim."""

from __future__ import annotations

import grpc
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from stopay.banksim.server import serve
from tests.conftest import EXAMPLES


async def ask(target: str, request: reflection_pb2.ServerReflectionRequest) -> reflection_pb2.ServerReflectionResponse:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        async for response in stub.ServerReflectionInfo(iter([request]), timeout=10):
            return response
    raise AssertionError("no reflection answer")


async def services(target: str) -> set[str]:
    response = await ask(target, reflection_pb2.ServerReflectionRequest(list_services=""))
    return {s.name for s in response.list_services_response.service}


async def test_the_service_lists_its_services_through_reflection(make_app) -> None:
    app = await make_app()
    target = f"127.0.0.1:{app.port}"
    assert await services(target) == {
        "stopay.v1.StationService",
        "stopay.v1.BankGateway",
        "stopay.v1.OperatorService",
        "stopay.v1.AuditService",
        "stopay.v1.HoldService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    }
    # A client can read a method's messages: what `grpcurl describe` shows.
    response = await ask(
        target, reflection_pb2.ServerReflectionRequest(file_containing_symbol="stopay.v1.StationService")
    )
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(b)
        for b in response.file_descriptor_response.file_descriptor_proto
    ]
    station = next(f for f in files if f.name == "stopay/v1/station.proto")
    assert "SubmitEntry" in [m.name for m in station.service[0].method]
    assert "LinkedCase" in [m.name for m in station.message_type]


async def test_bank_sim_lists_the_remote_bank_service_through_reflection() -> None:
    sim, port = await serve(EXAMPLES / "seed-xue.json", "127.0.0.1:0")
    try:
        assert await services(f"127.0.0.1:{port}") == {
            "bank_adapters.remote.v1.RemoteBank",
            "grpc.reflection.v1alpha.ServerReflection",
        }
    finally:
        await sim.stop(0)

"""Per-caller quotas over real TLS: a caller over its rate is told RESOURCE_EXHAUSTED with when to
retry (google.rpc.RetryInfo), others are not slowed by it; streams are capped per caller."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from stopay.api.quotas import Quotas, RateLimiter
from stopay.v1 import station_pb2, station_pb2_grpc
from tests.conftest import FakeClock, eventually
from tests.entries import simple_request
from tests.identities import Pki


def test_the_bucket_refills_at_the_rate() -> None:
    clock = FakeClock()
    bucket = RateLimiter(rate_per_s=2.0, burst=2, monotonic=clock.monotonic)
    bucket.take("a")
    bucket.take("a")
    with pytest.raises(Exception) as over:
        bucket.take("a")
    assert over.value.retry_after_s == pytest.approx(0.5)  # type: ignore[attr-defined]
    bucket.take("b")  # another caller has its own bucket
    clock.advance(0.5)
    bucket.take("a")


async def test_a_caller_over_its_rate_is_told_when_to_retry(make_app, pki: Pki) -> None:
    clock = FakeClock()  # the bucket refills only when the test says so
    app = await make_app(tls=pki.server, clock=clock, quotas=Quotas(rate_per_s=1.0, burst=2))
    busy = station_pb2_grpc.StationServiceStub(pki.as_(app.port, "station", "CQ-YUZHONG-01"))
    other = station_pb2_grpc.StationServiceStub(pki.as_(app.port, "station", "CQ-JIANGBEI-02"))
    request = station_pb2.ListCasesRequest()
    await busy.ListCases(request)
    await busy.ListCases(request)
    with pytest.raises(grpc.aio.AioRpcError) as over:
        await busy.ListCases(request)
    assert over.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    status = rpc_status.from_call(over.value)
    assert status is not None
    retry = error_details_pb2.RetryInfo()
    assert any(d.Unpack(retry) for d in status.details)
    assert retry.retry_delay.ToNanoseconds() == 1_000_000_000
    await other.ListCases(request)  # not slowed by the busy one
    clock.advance(1.0)
    await busy.ListCases(request)
    assert app.api.guard.denials[("ListCases", "RATE_LIMITED")] == 1


async def test_streams_per_caller_are_capped(make_app, pki: Pki) -> None:
    app = await make_app(tls=pki.server, quotas=Quotas(streams_per_caller=1))
    stub = station_pb2_grpc.StationServiceStub(pki.as_(app.port, "station", "CQ-YUZHONG-01"))
    case = await stub.SubmitEntry(simple_request(("ZZB", "6222020200004444", 90_000)))
    first = stub.WatchCase(station_pb2.WatchCaseRequest(case_id=case.case_id, follow=True))
    await first.read()  # the stream is open
    with pytest.raises(grpc.aio.AioRpcError) as over:
        await stub.WatchCase(station_pb2.WatchCaseRequest(case_id=case.case_id)).read()
    assert over.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    first.cancel()

    async def again() -> bool:
        try:
            await stub.WatchCase(station_pb2.WatchCaseRequest(case_id=case.case_id)).read()
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            return False
        return True

    await eventually(again)  # the slot is given back once the first stream ends


async def test_a_stream_ends_at_the_client_s_deadline(make_app, pki: Pki) -> None:
    app = await make_app(tls=pki.server)
    stub = station_pb2_grpc.StationServiceStub(pki.as_(app.port, "station", "CQ-YUZHONG-01"))
    case = await stub.SubmitEntry(simple_request(("ZZB", "6222020200004444", 90_000)))
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        async for _ in stub.WatchCase(station_pb2.WatchCaseRequest(case_id=case.case_id, follow=True), timeout=0.5):
            pass
    assert ended.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    await asyncio.wait_for(stub.ListCases(station_pb2.ListCasesRequest()), 5)  # the server goes on

"""The edges a hostile review found, each closed: a certificate that expires on an open connection,
health and reflection within the deny list and quotas, refused calls counted against the rate, a
missing case refused like another station's, links to other stations' cases without their names,
bank-sim answering stopay's certificate alone, and the grpc adapter never silently in plain text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bank_adapters.remote.adapter import create as create_remote
from bank_adapters.remote.v1 import remote_bank_pb2 as rb
from bank_adapters.remote.v1 import remote_bank_pb2_grpc
from stopay.api.quotas import Quotas
from stopay.api.tls import TlsFiles
from stopay.banksim.server import serve as serve_banks
from stopay.security import pki as pki_files
from stopay.v1 import station_pb2, station_pb2_grpc
from tests.conftest import EXAMPLES, FakeClock, eventually
from tests.entries import confirm, simple_request
from tests.identities import Pki
from tests.integration.test_access import refused

CASES = station_pb2.ListCasesRequest()


async def test_a_certificate_that_expires_on_an_open_connection_is_refused_from_then_on(make_app, pki: Pki) -> None:
    app = await make_app(tls=pki.server)
    now = datetime.now(UTC)  # the TLS library's clock
    files = pki.files("station", "S1", valid_from=now - timedelta(minutes=1), valid_until=now + timedelta(seconds=3))
    stub = station_pb2_grpc.StationServiceStub(pki.channel(app.port, files))
    await stub.ListCases(CASES)  # the handshake, within its validity

    async def expired() -> bool:
        try:
            await stub.ListCases(CASES)
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.UNAUTHENTICATED, exc.details()
            return True
        return False

    await eventually(expired, timeout_s=30, every_s=0.5)


async def test_health_is_within_the_deny_list_and_the_caller_s_quotas(make_app, pki: Pki, tmp_path: Path) -> None:
    deny = tmp_path / "deny"
    deny.write_text("", encoding="utf-8")
    app = await make_app(
        tls=TlsFiles(pki.server.ca, pki.server.cert, pki.server.key, deny),
        quotas=Quotas(streams_per_caller=1),
        clock=FakeClock(),
    )
    health = health_pb2_grpc.HealthStub(pki.as_(app.port, "station", "S1"))
    watching = health.Watch(health_pb2.HealthCheckRequest())
    assert (await watching.read()).status == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.aio.AioRpcError) as second:
        await health.Watch(health_pb2.HealthCheckRequest()).read()
    assert second.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    watching.cancel()
    revoked = pki.files("station", "S2")
    deny.write_text(f"{pki_files.serial_of(revoked.cert.read_bytes()):x}\n", encoding="utf-8")
    with pytest.raises(grpc.aio.AioRpcError) as refused_health:
        await health_pb2_grpc.HealthStub(pki.channel(app.port, revoked)).Check(health_pb2.HealthCheckRequest())
    assert refused_health.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_refused_calls_count_against_the_rate(make_app, pki: Pki) -> None:
    app = await make_app(tls=pki.server, clock=FakeClock(), quotas=Quotas(rate_per_s=1.0, burst=2))
    bank = station_pb2_grpc.StationServiceStub(pki.as_(app.port, "bank", "ICBC"))
    assert await refused(bank.ListCases(CASES)) == "ROLE_NOT_ALLOWED"
    assert await refused(bank.ListCases(CASES)) == "ROLE_NOT_ALLOWED"
    assert await refused(bank.ListCases(CASES), grpc.StatusCode.RESOURCE_EXHAUSTED) == "RATE_LIMITED"


async def test_a_station_learns_nothing_of_other_stations_cases(make_app, pki: Pki) -> None:
    app = await make_app(tls=pki.server)
    first = station_pb2_grpc.StationServiceStub(pki.as_(app.port, "station", "CQ-YUZHONG-01"))
    second = station_pb2_grpc.StationServiceStub(pki.as_(app.port, "station", "CQ-JIANGBEI-02"))
    request = simple_request(("ZZB", "6222020200004444", 90_000))
    request.station_id = ""
    theirs = await first.SubmitEntry(request)
    # A case that does not exist is refused as another station's is: neither says which it is.
    assert await refused(second.GetCase(station_pb2.GetCaseRequest(case_id=theirs.case_id))) == "CASE_OUT_OF_SCOPE"
    assert (
        await refused(second.GetCase(station_pb2.GetCaseRequest(case_id="00000000-0000-0000-0000-000000000001")))
        == "CASE_OUT_OF_SCOPE"
    )
    # The same transfer reported again, by the other station: linked, without the first's name.
    again = simple_request(("ZZB", "6222020200004444", 90_000))
    again.station_id = ""
    again.transfers[0].transferred_at.CopyFrom(request.transfers[0].transferred_at)
    confirm(again)  # the victim confirms the transfer as it is now
    mine = await second.SubmitEntry(again)
    assert [(link.case_id, link.station_id, link.txn_id) for link in mine.linked_cases] == [
        ("", "", request.transfers[0].txn_id)
    ]
    case = await second.GetCase(station_pb2.GetCaseRequest(case_id=mine.case_id))
    assert [(link.case_id, link.station_id) for link in case.linked_cases] == [("", "")]
    auditor = station_pb2_grpc.StationServiceStub(pki.as_(app.port, "auditor", "a17"))
    case = await auditor.GetCase(station_pb2.GetCaseRequest(case_id=mine.case_id))
    assert [(link.case_id, link.station_id) for link in case.linked_cases] == [(theirs.case_id, "CQ-YUZHONG-01")]


async def test_bank_sim_answers_the_service_certificate_alone(pki: Pki) -> None:
    sim, port = await serve_banks(EXAMPLES / "seed-xue.json", "127.0.0.1:0", tls=pki.server)
    try:
        request = rb.StatementRequest(
            idempotency_key="k-1",
            case_id="c",
            order_id="o",
            level=1,
            account=rb.Account(bank_code="ICBC", number="6222020200001111111"),
        )
        station = remote_bank_pb2_grpc.RemoteBankStub(pki.as_(port, "station", "S1"))
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await station.Statement(request, timeout=5)
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        service = remote_bank_pb2_grpc.RemoteBankStub(pki.channel(port, pki.server))
        answer = await service.Statement(request, timeout=5)
        assert answer.status
    finally:
        await sim.stop(0)


@pytest.mark.parametrize(
    "options, words",
    [
        ({"target": "10.1.2.3:7000", "banks": "ICBC"}, "not on this machine"),
        ({"target": "bank.example:7000", "banks": "ICBC", "tls_ca": ""}, "go together"),
        ({"target": "127.0.0.1:7000", "banks": "ICBC", "tls_ca": "ca.pem"}, "go together"),
    ],
)
def test_the_grpc_adapter_is_never_plain_text_by_accident(options: dict[str, str], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        create_remote(options)
    assert create_remote({"target": "10.1.2.3:7000", "banks": "ICBC", "insecure": "true"}) is not None

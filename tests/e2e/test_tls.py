"""Mutual TLS with real sockets: who cannot get a call through at all, and how certificates are
rotated and revoked while the server runs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from stopay import bootstrap
from stopay.api.tls import TlsFiles
from stopay.config import Settings
from stopay.security import pki as pki_files
from stopay.v1 import station_pb2, station_pb2_grpc
from tests.conftest import eventually
from tests.identities import Pki

LIST = station_pb2.ListCasesRequest()


async def code_of(call) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def cases(channel: grpc.aio.Channel):  # type: ignore[no-untyped-def]
    return station_pb2_grpc.StationServiceStub(channel).ListCases(LIST, timeout=5)


async def test_only_a_certificate_of_the_ca_gets_a_call_through(make_app, pki: Pki) -> None:
    app = await make_app(tls=pki.server)
    assert await code_of(cases(pki.as_(app.port, "station", "CQ-YUZHONG-01"))) == grpc.StatusCode.OK
    # No client certificate at all: the handshake fails, no call is ever served.
    bare = grpc.aio.secure_channel(
        f"127.0.0.1:{app.port}", grpc.ssl_channel_credentials(root_certificates=pki.server.ca.read_bytes())
    )
    pki.channels.append(bare)
    assert await code_of(cases(bare)) == grpc.StatusCode.UNAVAILABLE
    # A certificate of another CA, naming the same station.
    other = Pki(pki.folder / "other")
    forged = other.files("station", "CQ-YUZHONG-01")
    assert (
        await code_of(cases(pki.channel(app.port, TlsFiles(pki.server.ca, forged.cert, forged.key))))
        == grpc.StatusCode.UNAVAILABLE
    )
    # An expired certificate of the right CA.
    assert (
        await code_of(cases(pki.channel(app.port, pki.expired("station", "CQ-YUZHONG-01"))))
        == grpc.StatusCode.UNAVAILABLE
    )
    # Plain text to a TLS port.
    plain = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")
    pki.channels.append(plain)
    assert await code_of(cases(plain)) == grpc.StatusCode.UNAVAILABLE
    assert app.api.guard.denials == {}  # none of them got as far as a call


async def test_an_identity_sent_as_metadata_is_refused(make_app, pki: Pki) -> None:
    app = await make_app(tls=pki.server)
    station = station_pb2_grpc.StationServiceStub(pki.as_(app.port, "station", "CQ-YUZHONG-01"))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await station.ListCases(LIST, metadata=[("x-stopay-identity", "stopay://auditor/a17")], timeout=5)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert app.api.guard.denials[("ListCases", "IDENTITY_IN_METADATA")] == 1


async def test_a_revoked_certificate_is_refused_once_the_deny_list_names_it(make_app, pki: Pki, tmp_path: Path) -> None:
    deny = tmp_path / "deny.txt"
    deny.write_text("# revoked certificates\n", encoding="utf-8")
    app = await make_app(tls=TlsFiles(pki.server.ca, pki.server.cert, pki.server.key, deny))
    files = pki.files("station", "CQ-YUZHONG-01")
    channel = pki.channel(app.port, files)
    assert await code_of(cases(channel)) == grpc.StatusCode.OK
    serial = pki_files.serial_of(files.cert.read_bytes())
    deny.write_text(f"# revoked certificates\n{serial:x}  # lost laptop\n", encoding="utf-8")

    async def refused() -> bool:  # read again on change, the connection already open included
        return await code_of(cases(channel)) == grpc.StatusCode.UNAUTHENTICATED

    await eventually(refused)
    assert await code_of(cases(pki.as_(app.port, "auditor", "a17"))) == grpc.StatusCode.OK


async def test_new_certificates_on_disk_serve_new_connections_without_a_restart(
    make_app, pki: Pki, tmp_path: Path
) -> None:
    live = tmp_path / "live"
    live.mkdir()
    for name in ("ca.pem", "server.pem", "server.key"):
        shutil.copy(pki.folder / name, live / name)
    app = await make_app(tls=TlsFiles(live / "ca.pem", live / "server.pem", live / "server.key"))
    old_client = pki.files("station", "CQ-YUZHONG-01")
    assert await code_of(cases(pki.channel(app.port, old_client))) == grpc.StatusCode.OK
    # Rotation to a new CA: its files are written where the server reads them.
    new = Pki(tmp_path / "new")
    for name in ("ca.pem", "server.pem", "server.key"):
        shutil.copy(new.folder / name, live / name)
    new_client = new.files("station", "CQ-YUZHONG-01")
    assert await code_of(cases(pki.channel(app.port, new_client))) == grpc.StatusCode.OK
    assert await code_of(cases(pki.channel(app.port, old_client))) == grpc.StatusCode.UNAVAILABLE


async def test_health_is_open_to_every_certificate_of_the_ca(make_app, pki: Pki) -> None:
    app = await make_app(tls=pki.server)
    for role, name in (("bank", "ICBC"), ("station", "CQ-YUZHONG-01"), ("auditor", "a17")):
        health = health_pb2_grpc.HealthStub(pki.as_(app.port, role, name))
        reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_plain_text_is_refused_off_loopback(dsn: str) -> None:
    with pytest.raises(bootstrap.ConfigError, match="loopback"):
        await bootstrap.build(Settings(listen="0.0.0.0:0", dsn=dsn))


@pytest.mark.parametrize(
    "args, expected",
    [
        (("serve", "--insecure", "--listen", "0.0.0.0:0"), "--insecure serves plain text only on a loopback address"),
        (("serve", "--listen", "127.0.0.1:0"), "give --tls-ca, --tls-cert and --tls-key"),
        (("serve", "--tls-ca", "ca.pem", "--listen", "127.0.0.1:0"), "missing --tls-cert, --tls-key"),
        (("bank-sim", "--bank-network", "x.json", "--listen", "10.1.2.3:0", "--insecure"), "loopback"),
    ],
)
def test_serve_and_bank_sim_say_what_tls_needs(args: tuple[str, ...], expected: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stopay.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr

"""``stopay certs``: the development PKI, run as a command and checked with ``cryptography``'s own
path validation, then used by a real gRPC server and client with mutual TLS on 127.0.0.1."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import DNSName, IPAddress, PolicyBuilder, Store, VerificationError
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from stopay.security import pki, revocation

SERVER_AUTH, CLIENT_AUTH = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH


def certs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stopay.cli.main", "certs", *args], capture_output=True, text=True, timeout=60
    )


def ok(*args: str) -> str:
    result = certs(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def usages(cert: x509.Certificate) -> set[x509.ObjectIdentifier]:
    return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def sans(cert: x509.Certificate) -> x509.SubjectAlternativeName:
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value


def store(folder: Path) -> PolicyBuilder:
    return PolicyBuilder().store(Store([load(folder / "ca.pem")])).time(datetime.now(UTC))


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.fixture
def ca(tmp_path: Path) -> Path:
    folder = tmp_path / "pki"
    ok("init", str(folder))
    return folder


def test_init_writes_a_ca_and_a_server_certificate_for_loopback_and_each_host(tmp_path: Path) -> None:
    folder = tmp_path / "pki"
    out = ok("init", str(folder), "--host", "10.1.2.3", "--host", "stopay.example.org")
    root, server = load(folder / "ca.pem"), load(folder / "server.pem")
    assert f"{root.serial_number:x}" in out and f"{server.serial_number:x}" in out
    for name in ("ca.pem", "ca.key", "server.pem", "server.key"):
        assert str(folder / name) in out
    assert mode(folder / "ca.key") == mode(folder / "server.key") == 0o600

    constraints = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    usage = root.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    assert root.not_valid_after_utc - root.not_valid_before_utc == timedelta(days=3650) + pki.BACKDATE
    assert server.not_valid_after_utc - server.not_valid_before_utc == timedelta(days=397) + pki.BACKDATE

    names = sans(server)
    assert names.get_values_for_type(x509.DNSName) == ["localhost", "stopay.example.org"]
    assert names.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address(a) for a in ("127.0.0.1", "::1", "10.1.2.3")
    ]
    assert names.get_values_for_type(x509.UniformResourceIdentifier) == ["stopay://service/stopay"]
    assert usages(server) == {SERVER_AUTH, CLIENT_AUTH}
    for subject in (DNSName("stopay.example.org"), DNSName("localhost"), IPAddress(ipaddress.ip_address("10.1.2.3"))):
        store(folder).build_server_verifier(subject).verify(server, [])
    with pytest.raises(VerificationError):
        store(folder).build_server_verifier(DNSName("elsewhere.example.org")).verify(server, [])
    store(folder).build_client_verifier().verify(server, [])  # the service calls banks with it


def test_a_station_certificate_names_its_identity_exactly_and_only_as_a_client(ca: Path) -> None:
    out = ok("issue", str(ca), "station", "500106-01")
    pem, key = ca / "station-500106-01.pem", ca / "station-500106-01.key"
    assert str(pem) in out and str(key) in out and f"{pki.serial_of(pem.read_bytes()):x}" in out
    assert mode(key) == 0o600
    assert pki.identity_uris(pem.read_bytes()) == ["stopay://station/500106-01"]
    cert = load(pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "station/500106-01"
    assert sans(cert).get_values_for_type(x509.DNSName) == []
    assert usages(cert) == {CLIENT_AUTH}
    verified = store(ca).build_client_verifier().verify(cert, [])
    assert verified.subjects is not None
    assert [n.value for n in verified.subjects] == ["stopay://station/500106-01"]
    assert verified.chain[-1] == load(ca / "ca.pem")
    with pytest.raises(VerificationError):
        store(ca).build_server_verifier(DNSName("localhost")).verify(cert, [])


def test_a_bank_certificate_also_serves_its_gateway_on_loopback(ca: Path) -> None:
    ok("issue", str(ca), "bank", "ICBC")
    cert = load(ca / "bank-ICBC.pem")
    assert pki.identity_uris((ca / "bank-ICBC.pem").read_bytes()) == ["stopay://bank/ICBC"]
    assert usages(cert) == {CLIENT_AUTH, SERVER_AUTH}
    store(ca).build_server_verifier(IPAddress(ipaddress.ip_address("127.0.0.1"))).verify(cert, [])
    store(ca).build_client_verifier().verify(cert, [])


@pytest.mark.parametrize(
    ("role", "name", "words"),
    [
        ("boss", "x", ["role 'boss'", "station, officer, supervisor, center, bank, auditor, operator"]),
        ("Station", "x", ["role 'Station'"]),
        ("officer", "a b", ["name 'a b'", "1 to 64 characters"]),
        ("officer", "x" * 65, ["name 'xxx", "1 to 64 characters"]),
        ("officer", "a/b", ["name 'a/b'"]),
        ("officer", "", ["name ''"]),
    ],
)
def test_a_bad_role_or_name_is_refused_by_name_and_writes_nothing(
    ca: Path, role: str, name: str, words: list[str]
) -> None:
    before = sorted(p.name for p in ca.iterdir())
    result = certs("issue", str(ca), role, name)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr
    assert sorted(p.name for p in ca.iterdir()) == before


def test_the_longest_name_is_accepted(ca: Path) -> None:
    name = "n" * 64
    ok("issue", str(ca), "supervisor", name)
    assert pki.identity_uris((ca / f"supervisor-{name}.pem").read_bytes()) == [f"stopay://supervisor/{name}"]


def test_days_sets_the_validity(ca: Path) -> None:
    ok("issue", str(ca), "officer", "500106012345", "--days", "30")
    cert = load(ca / "officer-500106012345.pem")
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=30) + pki.BACKDATE
    assert cert.not_valid_after_utc - datetime.now(UTC) > timedelta(days=29, hours=23)
    for bad in ("0", "-3", "1.5", "36501"):
        result = certs("issue", str(ca), "officer", "500106012345", "--days", bad)
        assert result.returncode == 2 and "--days" in result.stderr, result.stderr


def test_init_days_sets_the_ca_and_caps_the_server(tmp_path: Path) -> None:
    ok("init", str(tmp_path / "pki"), "--days", "100")
    for name, days in (("ca.pem", 100), ("server.pem", 100)):
        cert = load(tmp_path / "pki" / name)
        assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=days) + pki.BACKDATE


def test_init_keeps_an_existing_ca_unless_forced(ca: Path) -> None:
    ok("issue", str(ca), "auditor", "a17")
    first = (ca / "ca.pem").read_bytes(), (ca / "ca.key").read_bytes()
    refused = certs("init", str(ca))
    assert refused.returncode == 2 and "already has a CA" in refused.stderr and "--force" in refused.stderr
    assert ((ca / "ca.pem").read_bytes(), (ca / "ca.key").read_bytes()) == first

    ok("init", str(ca), "--force")
    assert (ca / "ca.pem").read_bytes() != first[0]
    with pytest.raises(VerificationError):  # the old CA's certificates are not trusted by the new one
        store(ca).build_client_verifier().verify(load(ca / "auditor-a17.pem"), [])


def test_issue_without_a_ca_says_how_to_make_one(tmp_path: Path) -> None:
    result = certs("issue", str(tmp_path / "none"), "operator", "ops1")
    assert result.returncode == 2
    assert "run stopay certs init" in result.stderr and "no CA" in result.stderr
    assert not (tmp_path / "none").exists()

    for name in ("ca.pem", "ca.key"):
        ok("init", str(tmp_path / name.replace(".", "-")))
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "ca.pem").write_bytes((tmp_path / "ca-pem" / "ca.pem").read_bytes())
    (mixed / "ca.key").write_bytes((tmp_path / "ca-key" / "ca.key").read_bytes())
    result = certs("issue", str(mixed), "operator", "ops1")
    assert result.returncode == 2 and "ca.key is not the key of" in result.stderr, result.stderr


def test_a_bad_host_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    result = certs("init", str(tmp_path / "pki"), "--host", "bad_host")
    assert result.returncode == 2 and "host 'bad_host'" in result.stderr
    assert not (tmp_path / "pki" / "ca.pem").exists()


def test_a_certificate_can_be_issued_already_expired_for_tests(ca: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    written = pki.issue(ca, "station", "old", valid_from=now - timedelta(days=10), valid_until=now - timedelta(days=1))
    cert = load(written.cert)
    assert cert.not_valid_after_utc == now - timedelta(days=1)
    with pytest.raises(VerificationError):
        store(ca).build_client_verifier().verify(cert, [])
    cert.verify_directly_issued_by(load(ca / "ca.pem"))  # only its dates are wrong
    with pytest.raises(pki.PkiError, match="must end after it starts"):
        pki.issue(ca, "station", "never", valid_from=now, valid_until=now)


# ---- the certificates in use: gRPC with mutual TLS -------------------------------------------------


class _Health(health.aio.HealthServicer):
    """Health that keeps what the TLS layer says of each caller."""

    def __init__(self) -> None:
        super().__init__()
        self.callers: list[dict[str, list[bytes]]] = []

    async def Check(self, request, context):  # type: ignore[no-untyped-def]
        self.callers.append(context.auth_context())
        return await super().Check(request, context)


async def _serve(folder: Path, stem: str) -> tuple[grpc.aio.Server, int, _Health]:
    server = grpc.aio.server()
    servicer = _Health()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    credentials = grpc.ssl_server_credentials(
        [((folder / f"{stem}.key").read_bytes(), (folder / f"{stem}.pem").read_bytes())],
        root_certificates=(folder / "ca.pem").read_bytes(),
        require_client_auth=True,
    )
    port = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    return server, port, servicer


async def _check(port: int, ca_pem: bytes, cert: Path | None, key: Path | None) -> health_pb2.HealthCheckResponse:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca_pem,
        private_key=key.read_bytes() if key else None,
        certificate_chain=cert.read_bytes() if cert else None,
    )
    async with grpc.aio.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
        return await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)


@pytest.mark.parametrize(
    ("server_stem", "client_stem", "identity"),
    [
        ("server", "station-500106-01", "stopay://station/500106-01"),  # a station calls the service
        ("bank-ICBC", "server", "stopay://service/stopay"),  # the service calls a bank's gateway
    ],
)
async def test_grpc_serves_a_call_over_mutual_tls_and_sees_the_caller_s_identity(
    ca: Path, server_stem: str, client_stem: str, identity: str
) -> None:
    ok("issue", str(ca), "station", "500106-01")
    ok("issue", str(ca), "bank", "ICBC")
    server, port, servicer = await _serve(ca, server_stem)
    try:
        answer = await _check(port, (ca / "ca.pem").read_bytes(), ca / f"{client_stem}.pem", ca / f"{client_stem}.key")
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        (caller,) = servicer.callers
        (peer_pem,) = caller["x509_pem_cert"]
        assert pki.identity_uris(peer_pem) == [identity]
        assert pki.serial_of(peer_pem) == pki.serial_of((ca / f"{client_stem}.pem").read_bytes())
    finally:
        await server.stop(None)


async def test_grpc_refuses_a_caller_without_a_certificate_or_from_another_ca(ca: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    ok("init", str(other))
    ok("issue", str(other), "station", "500106-01")
    server, port, servicer = await _serve(ca, "server")
    try:
        for cert, key in ((None, None), (other / "station-500106-01.pem", other / "station-500106-01.key")):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await _check(port, (ca / "ca.pem").read_bytes(), cert, key)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert servicer.callers == []
    finally:
        await server.stop(None)


def test_a_deny_list_reads_serials_as_the_command_and_openssl_print_them(ca: Path) -> None:
    out = ok("issue", str(ca), "station", "500106-01")
    serial = pki.serial_of((ca / "station-500106-01.pem").read_bytes())
    openssl_style = f"serial={serial:040X}"
    text = f"# revoked 2026-12-04: a lost laptop\n{serial:x}  # station 500106-01\n\n{openssl_style}\n0a:0B\n"
    assert f"{serial:x}" in out
    assert revocation.parse_deny_list(text) == {serial, 0x0A0B}
    assert revocation.parse_deny_list("") == frozenset()
    with pytest.raises(pki.PkiError, match="line 2: 'station-500106-01' is not a serial number in hex"):
        revocation.parse_deny_list("# ok\nstation-500106-01\n")

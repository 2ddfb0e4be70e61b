"""The development PKI for mutual TLS: a CA, the service's certificate, and client certificates
whose one identity is a SAN URI ``stopay://ROLE/NAME`` (docs/security.md).

All keys are EC P-256, written as unencrypted PKCS#8 PEM files readable by their owner only (0600).
Certificates start five minutes before ``now`` (clocks differ a little between machines) and end
``days`` after it; ``valid_from``/``valid_until`` override both, for tests (an expired certificate).
"""

from __future__ import annotations

import ipaddress
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROLES = ("station", "officer", "supervisor", "center", "bank", "auditor", "operator")
NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
SCHEME = "stopay"
SERVICE_URI = f"{SCHEME}://service/stopay"
CA_DAYS = 3650
LEAF_DAYS = 397
MAX_DAYS = 36500
BACKDATE = timedelta(minutes=5)
LOOPBACK = ("localhost", "127.0.0.1", "::1")
_DNS_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


class PkiError(Exception):
    """A certificate cannot be made as asked: the message says why, for a person."""


@dataclass(frozen=True)
class Written:
    cert: Path
    key: Path
    serial: int
    not_after: datetime


def identity_uri(role: str, name: str) -> str:
    """``stopay://ROLE/NAME`` after checking both; PkiError names the part that is wrong."""
    if role not in ROLES:
        raise PkiError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if not NAME.fullmatch(name):
        raise PkiError(f"name {name!r} must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'")
    return f"{SCHEME}://{role}/{name}"


def serial_of(pem: bytes) -> int:
    return x509.load_pem_x509_certificate(pem).serial_number


def identity_uris(pem: bytes) -> list[str]:
    """The SAN URIs of a PEM certificate, in its order; none when it has no SAN extension."""
    cert = x509.load_pem_x509_certificate(pem)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return san.get_values_for_type(x509.UniformResourceIdentifier)


def init_ca(
    directory: Path | str,
    *,
    hosts: Iterable[str] = (),
    days: int = CA_DAYS,
    server_days: int = LEAF_DAYS,
    force: bool = False,
    now: datetime | None = None,
) -> tuple[Written, Written]:
    """Writes ``ca.pem``, ``ca.key``, ``server.pem`` and ``server.key`` in ``directory``; returns the
    CA's files and the server's. An existing CA is kept unless ``force``."""
    folder = Path(directory)
    if not force and ((folder / "ca.pem").exists() or (folder / "ca.key").exists()):
        raise PkiError(
            f"{folder} already has a CA (ca.pem, ca.key); give --force to replace it and every certificate it signed"
        )
    start, end = _validity(days, now, None, None)
    hosts = list(hosts)
    _host_names(hosts)  # a mistaken host is refused before anything is written
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "stopay"),
            x509.NameAttribute(NameOID.COMMON_NAME, "stopay development CA"),
        ]
    )
    builder = (
        _base(subject, subject, key.public_key(), start, end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(sign_certificates=True), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
    )
    cert = builder.sign(key, hashes.SHA256())
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca = _write(folder, "ca", cert, key)
    return ca, issue_server(folder, hosts=hosts, days=min(server_days, days), now=now)


def issue_server(
    directory: Path | str, *, hosts: Iterable[str] = (), days: int = LEAF_DAYS, now: datetime | None = None
) -> Written:
    """(Re)writes ``server.pem`` and ``server.key``, signed by the CA in ``directory``: for the
    service's own address (localhost, 127.0.0.1, ::1 and ``hosts``), serving and calling banks."""
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(SERVICE_URI)]
    names += _host_names([*LOOPBACK, *hosts])
    return _leaf(
        Path(directory),
        "server",
        "stopay service",
        "service",
        names,
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        days,
        now,
        None,
        None,
    )


def issue(
    directory: Path | str,
    role: str,
    name: str,
    *,
    days: int = LEAF_DAYS,
    now: datetime | None = None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> Written:
    """Writes ``ROLE-NAME.pem`` and ``ROLE-NAME.key`` (replacing them: a renewal), signed by the CA
    in ``directory``. A bank's certificate also serves, on loopback, as its gateway's (bank-sim)."""
    uri = identity_uri(role, name)
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(uri)]
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if role == "bank":
        names += _host_names(LOOPBACK)
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    # RFC 5280 allows a common name of 64 characters; the identity is the URI, the name is for people.
    common = f"{role}/{name}" if len(role) + 1 + len(name) <= 64 else name
    return _leaf(Path(directory), f"{role}-{name}", common, role, names, usages, days, now, valid_from, valid_until)


def _leaf(
    folder: Path,
    stem: str,
    common: str,
    unit: str,
    names: list[x509.GeneralName],
    usages: list[x509.ObjectIdentifier],
    days: int,
    now: datetime | None,
    valid_from: datetime | None,
    valid_until: datetime | None,
) -> Written:
    ca_cert, ca_key = _load_ca(folder)
    start, end = _validity(days, now, valid_from, valid_until)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "stopay"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        _base(subject, ca_cert.subject, key.public_key(), start, end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign_certificates=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
    )
    return _write(folder, stem, builder.sign(ca_key, hashes.SHA256()), key)


def _base(
    subject: x509.Name, issuer: x509.Name, public: ec.EllipticCurvePublicKey, start: datetime, end: datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )


def _key_usage(*, sign_certificates: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=sign_certificates,
        crl_sign=sign_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def _validity(
    days: int, now: datetime | None, valid_from: datetime | None, valid_until: datetime | None
) -> tuple[datetime, datetime]:
    if not 1 <= days <= MAX_DAYS:
        raise PkiError(f"days must be a whole number from 1 to {MAX_DAYS}, not {days}")
    at = (now or datetime.now(UTC)).replace(microsecond=0)
    start = valid_from or at - BACKDATE
    end = valid_until or at + timedelta(days=days)
    if end <= start:
        raise PkiError(f"a certificate must end after it starts ({start:%Y-%m-%d %H:%M:%S} to {end:%Y-%m-%d %H:%M:%S})")
    return start, end


def _host_names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    """DNS and IP SANs, each host once, IP addresses detected (``[::1]`` is an IPv6 address)."""
    names: list[x509.GeneralName] = []
    for host in hosts:
        text = host.strip()
        try:
            name: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(text.removeprefix("[").removesuffix("]")))
        except ValueError:
            name = x509.DNSName(_dns_name(text))
        if name not in names:
            names.append(name)
    return names


def _dns_name(text: str) -> str:
    labels = text.lower().removesuffix(".").split(".")
    if labels and labels[0] == "*":  # a wildcard, on the leftmost label only
        labels = labels[1:]
    if not labels or len(text) > 253 or not all(_DNS_LABEL.fullmatch(label) for label in labels):
        raise PkiError(
            f"host {text!r} is neither an IP address nor a DNS name (letters, digits and '-' "
            "in dot-separated labels; write an internationalized name in its xn-- form)"
        )
    return text.lower().removesuffix(".")


def _load_ca(folder: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_path, key_path = folder / "ca.pem", folder / "ca.key"
    if not cert_path.is_file() or not key_path.is_file():
        raise PkiError(f"{folder} has no CA (ca.pem and ca.key): run stopay certs init {folder} first")
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise PkiError(f"the CA in {folder} cannot be read: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        raise PkiError(f"{key_path} is not the key of {cert_path}")
    return cert, key


def _write(folder: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Written:
    key_path, cert_path = folder / f"{stem}.key", folder / f"{stem}.pem"
    _replace(
        key_path,
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        0o600,
    )
    _replace(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return Written(cert_path, key_path, cert.serial_number, cert.not_valid_after_utc)


def _replace(path: Path, data: bytes, mode: int) -> None:
    """Writes ``data`` to ``path`` whole or not at all: a server watching the file never reads half."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

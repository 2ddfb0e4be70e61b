"""Mutual TLS: the server's credentials, re-read when their files change, and the caller's identity
read from its verified certificate, with a deny list of revoked serial numbers.

gRPC checks the client's certificate against the configured CA (and its validity) during the
handshake; a caller without one, or with one of another CA or expired, never gets a call through.
What is left here: the ``stopay://ROLE/NAME`` identity in the certificate's SAN URIs, and the deny list.
"""

from __future__ import annotations

import ipaddress
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
import structlog
from cryptography import x509

from stopay.domain.identity import Identity, NotAnIdentity, identity_of
from stopay.security.pki import PkiError, identity_uris, serial_of
from stopay.security.revocation import parse_deny_list

log = structlog.get_logger(__name__)
LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


@dataclass(frozen=True, slots=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path
    # Serial numbers (hex) of revoked certificates, one per line; '#' starts a comment.
    deny: Path | None = None


class Unauthenticated(Exception):
    """The caller's certificate names no usable identity, or it was revoked."""


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _read(path: Path) -> bytes:
    return path.read_bytes()


def _stamp(paths: tuple[Path, ...]) -> tuple[tuple[int, int], ...]:
    stamps = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            stamps.append((-1, -1))
        else:
            stamps.append((st.st_mtime_ns, st.st_size))
    return tuple(stamps)


class ServerTls:
    """The server side: credentials whose files are re-read on change (or after :meth:`reload`, on
    SIGHUP) for every new connection, and the identity of each caller's certificate."""

    def __init__(self, files: TlsFiles) -> None:
        self.files = files
        self._lock = threading.Lock()
        self._cert_stamp = _stamp((files.ca, files.cert, files.key))
        self._config = self._configuration()  # fails now, at start, if a file is unreadable
        self._deny_stamp: tuple[tuple[int, int], ...] = ()
        self._denied: frozenset[int] = frozenset()
        self._load_deny()
        self._identities: OrderedDict[bytes, tuple[Identity, int, datetime]] = OrderedDict()

    def _configuration(self) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration(
            [(_read(self.files.key), _read(self.files.cert))], root_certificates=_read(self.files.ca)
        )

    def credentials(self) -> grpc.ServerCredentials:
        return grpc.dynamic_ssl_server_credentials(self._config, self._fetch, require_client_authentication=True)

    def reload(self) -> None:
        """Re-reads every file now (SIGHUP): new connections use the new certificate and CA."""
        with self._lock:
            self._cert_stamp = ()
        self._load_deny(force=True)

    def _fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """Called by gRPC before every handshake: a new configuration when the files changed."""
        stamp = _stamp((self.files.ca, self.files.cert, self.files.key))
        with self._lock:
            if stamp == self._cert_stamp:
                return None
            try:
                config = self._configuration()
            except OSError as exc:  # half-written during a rotation: keep the old ones for now
                log.warning("tls.reload_failed", error=str(exc))
                return None
            self._cert_stamp = stamp
            self._config = config
        log.info("tls.reloaded", cert=self.files.cert.name)
        return config

    def _load_deny(self, force: bool = False) -> None:
        if self.files.deny is None:
            return
        stamp = _stamp((self.files.deny,))
        if stamp == self._deny_stamp and not force:
            return
        try:
            denied = parse_deny_list(self.files.deny.read_text(encoding="utf-8"))
        except (OSError, PkiError) as exc:
            if not self._deny_stamp:
                raise ValueError(f"deny list {self.files.deny}: {exc}") from exc
            log.error("tls.deny_list_unreadable", error=str(exc))  # keep the last good list
            return
        self._denied, self._deny_stamp = denied, stamp
        log.info("tls.deny_list", serials=len(denied))

    def identify(self, pem: bytes) -> Identity:
        """The identity of a verified peer certificate; revoked or without one: Unauthenticated."""
        self._load_deny()
        found = self._identities.get(pem)
        if found is None:
            found = _identity_of_pem(pem)
            self._identities[pem] = found
            if len(self._identities) > 4096:
                self._identities.popitem(last=False)
        identity, serial, expires = found
        if serial in self._denied:
            raise Unauthenticated(f"the certificate of {identity} (serial {serial:x}) is revoked")
        # The handshake checked it; a connection kept open past the expiry must not outlive it. By
        # the system clock, as the TLS library judges it.
        if datetime.now(UTC) > expires:
            raise Unauthenticated(
                f"the certificate of {identity} (serial {serial:x}) expired at {expires:%Y-%m-%d %H:%M}Z"
            )
        return identity


def _identity_of_pem(pem: bytes) -> tuple[Identity, int, datetime]:
    try:
        expires = x509.load_pem_x509_certificate(pem).not_valid_after_utc
        return identity_of(identity_uris(pem)), serial_of(pem), expires
    except NotAnIdentity as exc:
        raise Unauthenticated(str(exc)) from exc


def channel_credentials(files: TlsFiles) -> grpc.ChannelCredentials:
    """A client's credentials: the CA to check the server by, and the caller's own certificate."""
    try:
        return grpc.ssl_channel_credentials(
            root_certificates=_read(files.ca), private_key=_read(files.key), certificate_chain=_read(files.cert)
        )
    except OSError as exc:
        raise ValueError(f"cannot read {exc.filename}: {exc.strerror}") from exc

"""A development PKI for the tests (``stopay certs`` underneath): a CA, the server's certificate, one
certificate per identity on demand, and channels that present them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc

from stopay.api.tls import TlsFiles, channel_credentials
from stopay.security import pki


class Pki:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        pki.init_ca(folder)
        self.channels: list[grpc.aio.Channel] = []

    @property
    def server(self) -> TlsFiles:
        return TlsFiles(self.folder / "ca.pem", self.folder / "server.pem", self.folder / "server.key")

    def files(self, role: str, name: str, **validity: datetime) -> TlsFiles:
        stem = f"{role}-{name}"
        if validity or not (self.folder / f"{stem}.pem").exists():
            pki.issue(self.folder, role, name, **validity)  # type: ignore[arg-type]
        return TlsFiles(self.folder / "ca.pem", self.folder / f"{stem}.pem", self.folder / f"{stem}.key")

    def expired(self, role: str, name: str) -> TlsFiles:
        now = datetime.now(UTC)  # the TLS library checks validity by the system clock
        stem = f"{role}-{name}"
        folder = self.folder / "expired"
        folder.mkdir(exist_ok=True)
        for part in ("ca.pem", "ca.key"):
            (folder / part).write_bytes((self.folder / part).read_bytes())
        pki.issue(folder, role, name, valid_from=now - timedelta(days=30), valid_until=now - timedelta(days=1))
        return TlsFiles(folder / "ca.pem", folder / f"{stem}.pem", folder / f"{stem}.key")

    def channel(self, port: int, files: TlsFiles) -> grpc.aio.Channel:
        channel = grpc.aio.secure_channel(f"127.0.0.1:{port}", channel_credentials(files))
        self.channels.append(channel)
        return channel

    def as_(self, port: int, role: str, name: str) -> grpc.aio.Channel:
        return self.channel(port, self.files(role, name))

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()
        self.channels.clear()

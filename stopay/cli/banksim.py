"""``stopay bank-sim``: serves the simulated banks of a scenario as a RemoteBank gRPC server until
SIGINT or SIGTERM, then stops gracefully."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from bank_adapters.simulated.scenario import ScenarioError
from stopay.banksim.server import serve
from stopay.cli.exits import LOCAL, Failure
from stopay.cli.serve import check_listen

GRACE_S = 2.0


def _write_port(path: Path, port: int) -> None:
    """Write the port so that a reader never sees a half-written file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(f"{port}\n")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise Failure(LOCAL, f"cannot write the port file {path}: {exc.strerror}") from exc


async def _run(args: argparse.Namespace) -> None:
    sim, port = await serve(args.bank_network, args.listen, args.callback)
    try:
        if args.port_file:
            _write_port(args.port_file, port)
        print(f"stopay bank-sim serving {len(sim.bank_codes)} banks "
              f"({', '.join(sorted(sim.bank_codes))}) on port {port}", file=sys.stderr, flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await sim.stop(GRACE_S)


def run(args: argparse.Namespace) -> int:
    check_listen(args.listen)
    try:
        asyncio.run(_run(args))
    except ScenarioError as exc:
        raise Failure(LOCAL, str(exc)) from exc
    return 0

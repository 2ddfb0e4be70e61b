"""``stopay bank-sim``: serves the simulated banks of a scenario as a RemoteBank gRPC server until
SIGINT or SIGTERM, then stops gracefully. With ``--counts-file`` it writes the freeze requests it
got, counted by idempotency key (stopay/banksim/tally.py), to that file every second and on exit."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path

from bank_adapters.simulated.scenario import ScenarioError
from stopay.banksim.server import BankSim, serve
from stopay.cli.connect import serving_tls
from stopay.cli.exits import LOCAL, Failure
from stopay.cli.running import until_signalled, write_port_file
from stopay.cli.serve import check_listen

GRACE_S = 2.0
COUNTS_EVERY_S = 1.0


async def _write_counts(sim: BankSim, path: Path) -> None:
    while True:
        sim.servicer.tally.write(path)
        await asyncio.sleep(COUNTS_EVERY_S)


async def _run(args: argparse.Namespace) -> None:
    sim, port = await serve(args.bank_network, args.listen, args.callback, tls=serving_tls(args, args.listen))
    counts: asyncio.Task[None] | None = None
    if args.counts_file:
        counts = asyncio.create_task(_write_counts(sim, args.counts_file))
    try:
        if args.port_file:
            write_port_file(args.port_file, port)
        print(
            f"stopay bank-sim serving {len(sim.bank_codes)} banks ({', '.join(sorted(sim.bank_codes))}) on port {port}",
            file=sys.stderr,
            flush=True,
        )
        await until_signalled()
    finally:
        await sim.stop(GRACE_S)
        if counts is not None:
            counts.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await counts
            sim.servicer.tally.write(args.counts_file)


def run(args: argparse.Namespace) -> int:
    serving_tls(args, args.listen)  # refuses a bad combination before anything starts
    check_listen(args.listen)
    try:
        asyncio.run(_run(args))
    except ScenarioError as exc:
        raise Failure(LOCAL, str(exc)) from exc
    return 0

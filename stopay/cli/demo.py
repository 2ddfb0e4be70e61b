"""``stopay demo``: the seed cases end to end, on the embedded database, in one command.

Starts the service with the simulated banks of the seed scenarios, submits each scenario's entries
as a station would, shows the freezes landing, compares the holds with the scenario's known answers
and stops.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
from importlib.resources import files
from pathlib import Path

import grpc
from google.protobuf import json_format

from bank_adapters.simulated.adapter import SimulatedBanks
from bank_adapters.simulated.scenario import load_scenario
from stopay import bootstrap
from stopay.cli import render
from stopay.cli.client import watch
from stopay.cli.scenario_entries import check_entries
from stopay.config import Settings
from stopay.domain.money import format_minor
from stopay.v1 import station_pb2, station_pb2_grpc

SEEDS = ("seed-xue.json", "seed-chen.json")


def example(name: str) -> Path:
    return Path(str(files("stopay.examples") / name))


async def _demo(data_dir: Path) -> int:
    networks = tuple(example(name) for name in SEEDS)
    app = await bootstrap.build(Settings(listen="127.0.0.1:0", data_dir=data_dir, bank_networks=networks))
    await app.start()
    mismatches = 0
    print(
        f"(the demo serves plain-text gRPC on 127.0.0.1:{app.port} only, nobody authenticated; "
        "a deployment serves mutual TLS: see docs/security.md)"
    )
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
            stub = station_pb2_grpc.StationServiceStub(channel)
            for path in networks:
                scenario = load_scenario(path)
                epoch = _simulated(app, scenario.banks[0].code).world.epoch
                print(f"\n== {scenario.name}: {scenario.description}")
                for check in scenario.checks:
                    for data in check_entries(scenario, check, epoch):
                        request = json_format.ParseDict(data, station_pb2.SubmitEntryRequest())
                        reply = await stub.SubmitEntry(request)
                        print(f"entry {request.report_no} -> case {reply.case_id}")
                        case = await watch(stub, reply.case_id, _print_events)
                        print(render.case_text(case))
                        mismatches += _compare(case, dict(check.expect_held), check.expect_exited, scenario.currency)
    finally:
        await app.stop()
        server = app.embedded_server
        if server is not None:
            await asyncio.to_thread(server.cleanup)
    return 1 if mismatches else 0


def _simulated(app: bootstrap.App, bank_code: str) -> SimulatedBanks:
    adapter = app.adapters[bank_code]
    if not isinstance(adapter, SimulatedBanks):
        raise TypeError(f"the demo needs simulated banks, and bank {bank_code} is served by {type(adapter).__name__}")
    return adapter


def _print_events(update: station_pb2.CaseUpdate) -> None:
    for event in update.events:
        print(render.event_text(event), flush=True)


def _compare(case: station_pb2.Case, expected: dict[str, int], exited: int | None, currency: str) -> int:
    """Compares the holds of every account of the trail, and the exits, with the known answer."""
    held: dict[str, int] = {}
    for order in case.orders:
        key = f"{order.account.bank_code}:{order.account.number}"
        held[key] = held.get(key, 0) + order.held_minor - order.released_minor
    rows = [(f"held at {a}", expected.get(a, 0), held.get(a, 0)) for a in sorted(set(held) | set(expected))]
    if exited is not None:
        rows.append(("traced into exits", exited, case.exited_minor))
    bad = 0
    for what, want, got in rows:
        mark = "ok" if got == want else "MISMATCH"
        bad += got != want
        want_text, got_text = format_minor(want, currency), format_minor(got, currency)
        print(f"  known answer, {what}: expected {want_text}, got {got_text}  {mark}")
    return bad


def run(args: argparse.Namespace) -> int:
    temporary = args.data_dir is None
    base = Path(tempfile.mkdtemp(prefix="stopay-demo-")) if temporary else args.data_dir
    try:
        return asyncio.run(_demo(base / "pgdata" if temporary else base))
    finally:
        if temporary:
            shutil.rmtree(base, ignore_errors=True)

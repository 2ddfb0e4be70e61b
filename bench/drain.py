"""Dispatch throughput: stopay's dispatcher draining queued seed-xue entries through zero-latency
simulated banks, against pgqueuer draining as many no-op jobs, at the same batch size, one process
each, alternated in the same run."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
from google.protobuf import json_format

from bank_adapters.simulated.scenario import load_scenario
from bench import load
from bench.sql import query
from stopay import bootstrap
from stopay.cli.scenario_entries import check_entries
from stopay.config import Settings
from stopay.dispatch.dispatcher import DispatchSettings
from stopay.domain.trail import Limits
from stopay.v1 import station_pb2

if TYPE_CHECKING:
    from bench.run import Databases

SEED_XUE = Path(__file__).resolve().parents[1] / "stopay" / "examples" / "seed-xue.json"


def seed_entries(network: Path, epoch: datetime, count: int) -> list[station_pb2.SubmitEntryRequest]:
    """``count`` reports of the network's first check, each with a fresh entry_id."""
    scenario = load_scenario(network)
    out: list[station_pb2.SubmitEntryRequest] = []
    while len(out) < count:
        for data in check_entries(scenario, scenario.checks[0], epoch):
            out.append(json_format.ParseDict(data, station_pb2.SubmitEntryRequest()))
    return out[:count]


async def queue(dsn: str, requests: list[station_pb2.SubmitEntryRequest], limits: Limits = Limits()) -> None:
    """Submits the entries to a stopay without a dispatcher, so that their orders wait queued. A
    negative same-transfer window links no report to an earlier one: each entry is traced as a
    case of its own, as if its victim were another. ``limits``: the cases' tracing policy."""
    settings = Settings(listen="127.0.0.1:0", dsn=dsn, dispatcher=False, same_transfer_window_s=-1.0, limits=limits)
    app = await bootstrap.build(settings)
    await app.start()
    try:
        await load.drive(f"127.0.0.1:{app.port}", requests, 32)
    finally:
        await app.stop()


def dispatching(dsn: str, network: Path, epoch: datetime, batch: int, limits: Limits = Limits()) -> Settings:
    """A stopay with a dispatcher at ``batch`` on ``network``'s simulated banks."""
    return Settings(
        listen="127.0.0.1:0",
        dsn=dsn,
        bank_networks=(network,),
        network_epoch=epoch,
        dispatch=DispatchSettings(batch_size=batch),
        limits=limits,
    )


async def settled(conn: asyncpg.Connection, began: float, poll_s: float = 0.05) -> tuple[int, int, float]:
    """Waits until no order is open; returns (bank answers, orders, seconds since ``began``)."""
    while True:
        row = await conn.fetchrow(query("drain_progress"))
        if row["open_orders"] == 0:
            return row["answers"], row["orders"], time.perf_counter() - began
        if time.perf_counter() - began > 600:
            raise RuntimeError(f"the dispatcher left {row['open_orders']} orders open after 600 s")
        await asyncio.sleep(poll_s)


async def stopay_drain(
    dsn: str, network: Path, epoch: datetime, batch: int, limits: Limits = Limits(), poll_s: float = 0.05
) -> tuple[int, int, float]:
    """Starts a dispatcher on the queued orders; returns (bank answers, orders, seconds) once no
    order is open."""
    app = await bootstrap.build(dispatching(dsn, network, epoch, batch, limits))
    conn = await asyncpg.connect(dsn)
    try:
        began = time.perf_counter()
        await app.start()
        return await settled(conn, began, poll_s)
    finally:
        await conn.close()
        await app.stop()


async def pgqueuer_drain(dsn: str, jobs: int, batch: int) -> float:
    """Enqueues ``jobs`` no-op jobs, then drains them with one QueueManager; returns seconds."""
    from pgqueuer import AsyncpgDriver, Queries, QueueManager
    from pgqueuer.types import QueueExecutionMode

    conn = await asyncpg.connect(dsn)
    try:
        queries = Queries(AsyncpgDriver(conn))
        for start in range(0, jobs, 1000):
            n = min(1000, jobs - start)
            await queries.enqueue(["noop"] * n, [None] * n, [0] * n)
        qm = QueueManager(queries)

        @qm.entrypoint("noop")
        async def noop(job: object) -> None:
            return None

        began = time.perf_counter()
        await qm.run(batch_size=batch, mode=QueueExecutionMode.drain, dequeue_timeout=timedelta(seconds=1))
        return time.perf_counter() - began
    finally:
        await conn.close()


async def dispatch_part(
    args: argparse.Namespace, dbs: Databases, workdir: Path, say: Callable[[str], None]
) -> float | None:
    """Prints the dispatch figures; returns pgqueuer's median drain (None: pgqueuer is missing)."""
    try:
        from pgqueuer import AsyncpgDriver, Queries
    except ImportError:
        say("dispatch: pgqueuer is not installed (pip install '.[bench]'); part skipped")
        return None
    pgq_dsn = await dbs.new("pgqueuer")
    conn = await asyncpg.connect(pgq_dsn)
    try:
        await Queries(AsyncpgDriver(conn)).install()
    finally:
        await conn.close()
    rates: dict[str, list[float]] = {"stopay": [], "pgqueuer": []}
    for r in range(1, args.rounds + 1):
        dsn = await dbs.new(f"drain{r}")
        epoch = datetime.now(UTC)
        await queue(dsn, seed_entries(SEED_XUE, epoch, args.entries))
        answers, orders, seconds = await stopay_drain(dsn, SEED_XUE, epoch, args.batch)
        rates["stopay"].append(answers / seconds)
        say(
            f"  round {r} stopay: {args.entries} entries, {orders} orders, {answers} bank answers in "
            f"{seconds:.2f} s: {answers / seconds:.0f} answers/s"
        )
        seconds = await pgqueuer_drain(pgq_dsn, answers, args.batch)
        rates["pgqueuer"].append(answers / seconds)
        say(f"  round {r} pgqueuer: {answers} no-op jobs in {seconds:.2f} s: {answers / seconds:.0f} jobs/s")
    s, p = load.median(rates["stopay"]), load.median(rates["pgqueuer"])
    say(
        f"dispatch (batch {args.batch}, one process, median of {args.rounds}) throughput: "
        f"stopay {s:.0f} bank answers/s, pgqueuer {p:.0f} no-op jobs/s, ratio {s / p:.2f}"
    )
    return p

"""WatchCase at scale: one ``stopay serve`` replica with many open streams spread over a set of
cases. Its memory with the streams open, its CPU over a quiet interval with the idle streams, how
long until every stream had its first update, how soon a change reaches every watcher of its case,
and GetCase's p50 with the streams open against the same replica without them."""

from __future__ import annotations

import argparse
import asyncio
import copy
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import psutil

from bench import cpu, load
from stopay.v1 import station_pb2, station_pb2_grpc

if TYPE_CHECKING:
    from bench.run import Databases

MB = 1024 * 1024
STREAMS_PER_CHANNEL = 100  # the client's streams share a connection by the hundred
RSS_TARGET_MB = 150  # issue 12's targets
CPU_TARGET_PERCENT = 5.0


@dataclass(frozen=True)
class Firsts:
    """When each newly opened stream got its first update, in seconds after all were opened."""

    opened: int
    seconds: list[float]

    @property
    def missing(self) -> int:
        return self.opened - len(self.seconds)


class Watchers:
    """The benchmark's side of the streams: WatchCase calls held open over a few channels."""

    def __init__(self, target: str) -> None:
        self._target = target
        self._channels: list[grpc.aio.Channel] = []
        self.calls: list[tuple[str, grpc.aio.UnaryStreamCall]] = []  # (case id, call)

    def _stub(self) -> station_pb2_grpc.StationServiceStub:
        if len(self.calls) >= len(self._channels) * STREAMS_PER_CHANNEL:
            self._channels.append(grpc.aio.insecure_channel(self._target))
        return station_pb2_grpc.StationServiceStub(self._channels[-1])

    async def open(self, case_ids: list[str], count: int, timeout_s: float) -> Firsts:
        """Opens ``count`` more streams, round robin over ``case_ids``, all at once."""
        opened = []
        for n in range(count):
            case_id = case_ids[(len(self.calls) + n) % len(case_ids)]
            opened.append((case_id, self._stub().WatchCase(station_pb2.WatchCaseRequest(case_id=case_id, follow=True))))
        self.calls.extend(opened)
        began = time.perf_counter()

        async def first(call: grpc.aio.UnaryStreamCall) -> float | None:
            try:
                await asyncio.wait_for(call.read(), timeout_s)
            except TimeoutError:
                return None
            return time.perf_counter() - began

        seconds = await asyncio.gather(*(first(call) for _, call in opened))
        return Firsts(count, [s for s in seconds if s is not None])

    async def next_update(self, case_id: str, timeout_s: float) -> list[float]:
        """Waits for the next update on every stream of ``case_id``; the moments each came."""
        calls = [call for watched, call in self.calls if watched == case_id]

        async def one(call: grpc.aio.UnaryStreamCall) -> float:
            await asyncio.wait_for(call.read(), timeout_s)
            return time.perf_counter()

        return list(await asyncio.gather(*(one(call) for call in calls)))

    async def close(self) -> None:
        for _, call in self.calls:
            call.cancel()
        self.calls.clear()
        for channel in self._channels:
            await channel.close()
        self._channels.clear()


async def submit(target: str, requests: list[station_pb2.SubmitEntryRequest]) -> list[str]:
    """Submits the entries, a few at a time; their case ids in order."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = station_pb2_grpc.StationServiceStub(channel)
        gate = asyncio.Semaphore(8)

        async def one(request: station_pb2.SubmitEntryRequest) -> str:
            async with gate:
                return str((await stub.SubmitEntry(request, timeout=60)).case_id)

        return list(await asyncio.gather(*(one(r) for r in requests)))


async def get_case_ms(target: str, case_ids: list[str], calls: int, budget_s: float) -> list[float]:
    """GetCase, one call at a time, round robin over the cases; each call's milliseconds. Stops early
    after ``budget_s`` (a saturated server would take too long)."""
    latencies = []
    async with grpc.aio.insecure_channel(target) as channel:
        stub = station_pb2_grpc.StationServiceStub(channel)
        await stub.GetCase(station_pb2.GetCaseRequest(case_id=case_ids[0]), timeout=60)  # the channel is up
        stop = time.perf_counter() + budget_s
        for n in range(calls):
            began = time.perf_counter()
            await stub.GetCase(station_pb2.GetCaseRequest(case_id=case_ids[n % len(case_ids)]), timeout=60)
            latencies.append((time.perf_counter() - began) * 1000)
            if time.perf_counter() > stop:
                break
    return latencies


def again(request: station_pb2.SubmitEntryRequest) -> station_pb2.SubmitEntryRequest:
    """The same transfers reported again by another station: linked to the first case, which
    records it (a change of that case, and one notification)."""
    request = copy.deepcopy(request)
    request.entry_id = str(uuid.uuid4())
    request.station_id = "BENCH-AGAIN-01"
    return request


def rss_mb(pid: int) -> float:
    return float(psutil.Process(pid).memory_info().rss) / MB


def p50(values: list[float]) -> float:
    return statistics.median(values)


def firsts_line(what: str, firsts: Firsts, timeout_s: float) -> str:
    if not firsts.seconds:
        return f"WatchCase first update, {what}: none of {firsts.opened} streams within {timeout_s:.0f} s"
    line = (
        f"WatchCase first update, {what}: {len(firsts.seconds)} of {firsts.opened} streams, "
        f"the last after {max(firsts.seconds):.2f} s (p50 {p50(firsts.seconds):.2f} s)"
    )
    if firsts.missing:
        line += f", {firsts.missing} without one after {timeout_s:.0f} s"
    return line


async def watch_part(args: argparse.Namespace, dbs: Databases, workdir: Path, say: Callable[[str], None]) -> None:
    from bench.run import process  # run.py imports this module

    streams, idle, timeout_s = args.watch_streams, max(args.watch_idle_streams, args.watch_streams), 180.0
    db = await dbs.new("watch")
    argv = [
        sys.executable,
        "-c",
        "import sys; from stopay.cli.main import main; sys.exit(main())",
        "serve",
        "--insecure",
        "--no-dispatcher",
        "--dsn",
        db,
        "--listen",
        "127.0.0.1:0",
        "--port-file",
        str(workdir / "w.port"),
    ]
    async with process("stopay serve", argv, workdir / "w.port", workdir / "servers.log") as (target, pid):
        requests = load.entries(args.watch_cases)
        case_ids = await submit(target, requests)
        gets = args.watch_gets
        idle_ms = await get_case_ms(target, case_ids, gets, 60)
        rss_none = rss_mb(pid)
        watchers = Watchers(target)
        try:
            firsts = await watchers.open(case_ids, streams, timeout_s)
            rss_streams = rss_mb(pid)
            say(f"  {streams} streams open over {args.watch_cases} cases: RSS {rss_streams:.0f} MB")
            # A change of one case, told by its notification, reaches every watcher of it.
            began = time.perf_counter()
            await submit(target, [again(requests[0])])
            seen = await watchers.next_update(case_ids[0], timeout_s)
            change_ms = [(t - began) * 1000 for t in seen]
            more = await watchers.open(case_ids, idle - streams, timeout_s) if idle > streams else Firsts(0, [])
            rss_idle = rss_mb(pid)
            database = dbs.names[db]
            before = cpu.sample(pid, database)
            await asyncio.sleep(args.watch_quiet_s)
            quiet = cpu.spent(before, cpu.sample(pid, database))
            busy_ms = await get_case_ms(target, case_ids, gets, 60)
        finally:
            await watchers.close()
        idle_ms += await get_case_ms(target, case_ids, gets, 60)  # without streams again, alternated

    say(f"  {idle} streams open: RSS {rss_idle:.0f} MB")
    say(firsts_line(f"{streams} streams opened at once over {args.watch_cases} cases", firsts, timeout_s))
    if more.opened:
        say(firsts_line(f"{more.opened} more streams", more, timeout_s))
    say(
        f"WatchCase a change of one case, seen by all its {len(change_ms)} streams: "
        f"the last {max(change_ms):.0f} ms after the SubmitEntry that made it was sent"
    )
    say(
        f"WatchCase RSS with {streams} streams open: stopay {rss_streams:.0f} MB ({rss_none:.0f} MB before), "
        f"target {RSS_TARGET_MB} MB, ratio {rss_streams / RSS_TARGET_MB:.2f}"
    )
    percent = quiet.server_s / args.watch_quiet_s * 100
    say(
        f"WatchCase server CPU with {idle} idle streams over {args.watch_quiet_s:g} s: "
        f"stopay {percent:.1f}% of a core, target {CPU_TARGET_PERCENT:g}%, ratio {percent / CPU_TARGET_PERCENT:.2f}"
    )
    if quiet.backends_s is not None:
        say(
            f"WatchCase PostgreSQL CPU with {idle} idle streams over {args.watch_quiet_s:g} s: "
            f"{quiet.backends_s / args.watch_quiet_s * 100:.1f}% of a core"
        )
    s, i = p50(busy_ms), p50(idle_ms)
    say(
        f"GetCase p50 with {idle} idle WatchCase streams ({len(busy_ms)} calls): stopay {s:.2f} ms, "
        f"without streams {i:.2f} ms, ratio {s / i:.2f}"
    )

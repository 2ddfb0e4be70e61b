"""The drills: each starts its database and its stage, loads it, injects one fault, and returns
its figures (docs/reliability.md#drills)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from stopay.drills import figures
from stopay.drills.load import Loader, bank_codes, entries, network
from stopay.drills.postgres import PatroniCluster, SingleServer
from stopay.drills.stage import Stage, say

__all__ = ["DRILLS", "Options", "run"]


@dataclass(frozen=True)
class Options:
    replicas: int = 3
    rate: float = 10.0  # entries a second
    load_s: float = 30.0  # seconds of load (failover, db-restart)
    fault_after_s: float = 10.0  # seconds into the load when the fault comes
    settle_s: float = 180.0  # longest wait for every order to end after the load
    kills: int = 50  # kill-replicas: SIGKILLs
    outage_s: float = 30.0  # bank-outage: how long the bank is down
    down_s: float = 10.0  # db-restart: how long PostgreSQL is down
    fan_out: int = 3
    levels: int = 3
    latency_ms: int = 20
    seed: int | None = None
    keep: bool = False


@contextlib.asynccontextmanager
async def workspace(keep: bool) -> AsyncIterator[Path]:
    workdir = Path(tempfile.mkdtemp(prefix="stopay-drill-"))
    os.chmod(workdir, 0o755)  # PostgreSQL's user must reach its directories in it
    ok = False
    try:
        yield workdir
        ok = True
    finally:
        if ok and not keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            say(f"the drill's files and logs are in {workdir}")


async def stop_all(stages: list[Stage]) -> None:
    """Stops what a drill started that is still running (after a failure; a finished stage is
    stopped already)."""
    for stage in stages:
        with contextlib.suppress(Exception):
            await stage.stop()


async def single_server(workdir: Path) -> SingleServer:
    server = SingleServer(workdir)
    await asyncio.to_thread(server.init)
    await asyncio.to_thread(server.start)
    await server.create_database()
    return server


def orders_per_case(o: Options) -> int:
    """A freeze order and its stop per account of a victim's tree."""
    return 2 * sum(o.fan_out**level for level in range(o.levels))


def _network(
    workdir: Path, o: Options, victims: int, outages: dict[str, list[list[float]]] | None = None
) -> tuple[Path, Any, datetime]:
    path = workdir / "network.json"
    doc, epoch = network(path, victims, fan_out=o.fan_out, levels=o.levels, latency_ms=o.latency_ms, outages=outages)
    return path, doc, epoch


async def db_restart(o: Options) -> dict[str, Any]:
    """A single PostgreSQL stopped in immediate mode under load, started again ``down_s`` later."""
    async with workspace(o.keep) as workdir:
        server = await single_server(workdir)
        started: list[Stage] = []
        try:
            path, doc, epoch = _network(workdir, o, max(1, round(o.rate * o.load_s)))
            stage = Stage(workdir, server.dsn, path, bank_codes(doc), o.replicas, orders_per_case(o))
            started.append(stage)
            await stage.start()
            loader = Loader(stage.targets, rate=o.rate)
            load = asyncio.create_task(loader.run(entries(doc, epoch)))
            await asyncio.sleep(o.fault_after_s)
            await asyncio.to_thread(server.stop, "immediate")
            fault_at = time.monotonic()  # once it is down: calls that ended before were served
            say(f"PostgreSQL stopped in immediate mode; starting it again in {o.down_s:.0f} s")
            await asyncio.sleep(o.down_s)
            await asyncio.to_thread(server.start)
            restarted = time.monotonic()
            say("PostgreSQL started again")
            await load
            figs = await stage.figures(
                "db-restart",
                loader,
                fault_at,
                o.settle_s,
                db_down_s=round(restarted - fault_at, 1),
                recovery_after_restart_s=figures.recovery_s(loader.calls, restarted),
            )
        finally:
            await stop_all(started)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(server.stop, "fast")
    return figs


def _kill_member(cluster: PatroniCluster, i: int) -> None:
    """SIGKILL to member ``i``'s Patroni and to its PostgreSQL (which Patroni starts in a session of
    its own, so that it would outlive Patroni): the machine of the primary is gone."""
    pid_file = cluster.home / f"pg{i}" / "postmaster.pid"
    victims: list[psutil.Process] = []
    with contextlib.suppress(OSError, ValueError, IndexError, psutil.Error):
        postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
        victims = [postmaster, *postmaster.children(recursive=True)]
    cluster.members[i].kill(signal.SIGKILL)
    for proc in victims:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGKILL)


async def rejoined_role(cluster: PatroniCluster, i: int, timeout_s: float = 60.0) -> str:
    """Member ``i``'s role once it is a replica again (``timeout_s`` at most), else its role then."""
    deadline = time.monotonic() + timeout_s
    role = ""
    while time.monotonic() < deadline:
        role = await asyncio.to_thread(cluster.role_of, i)
        if role in ("replica", "sync_standby"):
            break
        await asyncio.sleep(0.5)
    return role


async def failover(o: Options) -> dict[str, Any]:
    """The Patroni primary killed (SIGKILL) under load; the killed member joins again as a replica."""
    async with workspace(o.keep) as workdir:
        cluster = PatroniCluster(workdir)
        started: list[Stage] = []
        try:
            began = time.monotonic()
            await cluster.start()
            say(
                f"Patroni cluster up in {time.monotonic() - began:.1f} s: primary pg0, "
                f"{cluster.sync_standbys()} sync standby"
            )
            path, doc, epoch = _network(workdir, o, max(1, round(o.rate * o.load_s)))
            stage = Stage(workdir, cluster.dsn, path, bank_codes(doc), o.replicas, orders_per_case(o))
            started.append(stage)
            await stage.start()
            loader = Loader(stage.targets, rate=o.rate)
            load = asyncio.create_task(loader.run(entries(doc, epoch)))
            await asyncio.sleep(o.fault_after_s)
            old = cluster.primary()
            if old is None:
                raise RuntimeError("the Patroni cluster had no primary before the fault")
            fault_at = time.monotonic()
            _kill_member(cluster, old)
            say(f"SIGKILL to the primary pg{old} (Patroni and PostgreSQL)")
            new = None
            while new is None or new == old:
                await asyncio.sleep(0.2)
                new = await asyncio.to_thread(cluster.primary)
                if time.monotonic() - fault_at > 120:
                    raise RuntimeError("no new primary 120 s after the old one was killed")
            promoted_s = round(time.monotonic() - fault_at, 1)
            say(f"pg{new} is the primary {promoted_s} s after the kill; pg{old} starts again to rejoin")
            await cluster.members[old].start()
            await load
            rejoined = await rejoined_role(cluster, old)
            figs = await stage.figures(
                "failover",
                loader,
                fault_at,
                o.settle_s,
                patroni_promoted_s=promoted_s,
                recovery_after_promotion_s=figures.recovery_s(loader.calls, fault_at + promoted_s),
                old_primary=f"pg{old}",
                new_primary=f"pg{new}",
                old_primary_rejoined_as=rejoined,
                synchronous_mode=True,
            )
        finally:
            await stop_all(started)
            await cluster.stop()
    return figs


async def kill_replicas(o: Options) -> dict[str, Any]:
    """``kills`` SIGKILLs of random replicas at random moments while trails fan out, each replica
    started again at once."""
    rng = random.Random(o.seed)
    async with workspace(o.keep) as workdir:
        server = await single_server(workdir)
        started: list[Stage] = []
        try:
            expected_s = o.kills * 6 + 10  # a kill every 1.4 s, and the restart: more entries than needed
            path, doc, epoch = _network(workdir, o, max(1, round(o.rate * expected_s)))
            stage = Stage(workdir, server.dsn, path, bank_codes(doc), o.replicas, orders_per_case(o))
            started.append(stage)
            await stage.start()
            loader = Loader(stage.targets, rate=o.rate)
            stop = asyncio.Event()
            load = asyncio.create_task(loader.run(entries(doc, epoch), stop))
            first_at: float | None = None
            restarts: list[float] = []
            for k in range(o.kills):
                await asyncio.sleep(rng.uniform(0.3, 2.5))
                replica = rng.choice(stage.replicas)
                killed = time.monotonic()
                first_at = first_at or killed
                replica.kill(signal.SIGKILL)
                await replica.reap()
                await replica.start()
                restarts.append(time.monotonic() - killed)
                if (k + 1) % 10 == 0:
                    say(f"{k + 1} of {o.kills} replicas killed and started again")
            stop.set()
            await load
            figs = await stage.figures(
                "kill-replicas",
                loader,
                first_at,
                o.settle_s,
                kills=o.kills,
                restart_p50_s=round(statistics.median(restarts), 2) if restarts else None,
                restart_max_s=round(max(restarts), 2) if restarts else None,
            )
            figs["recovery_s"] = figs["restart_max_s"]  # the longest a killed replica was away
        finally:
            await stop_all(started)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(server.stop, "fast")
    return figs


async def bank_outage(o: Options) -> dict[str, Any]:
    """One bank down ``outage_s`` while entries come; the others' entry-to-hold (level 1) against
    the same figure before the outage."""
    async with workspace(o.keep) as workdir:
        server = await single_server(workdir)
        started: list[Stage] = []
        try:
            start_margin = 40.0  # seconds for the stage to come up before the baseline load
            baseline_s = 20.0
            outage_from = start_margin + baseline_s + 2
            victims = max(2, round(o.rate * (baseline_s + o.outage_s)))
            # the bank of the network (seed 7) that gets the outage is the first one listed
            path, doc, epoch = _network(workdir, o, victims)
            down = bank_codes(doc)[0]
            path, doc, epoch = _network(workdir, o, victims, {down: [[outage_from, outage_from + o.outage_s]]})
            stage = Stage(workdir, server.dsn, path, bank_codes(doc), o.replicas, orders_per_case(o))
            started.append(stage)
            await stage.start()
            wall0 = epoch.timestamp()
            if time.time() > wall0 + start_margin:
                raise RuntimeError(f"the stage took more than {start_margin:.0f} s to start")
            requests = entries(doc, epoch)
            half = round(o.rate * baseline_s)
            await asyncio.sleep(wall0 + start_margin - time.time())
            loader = Loader(stage.targets, rate=o.rate)
            say("baseline load")
            await loader.run(requests[:half])
            await asyncio.sleep(max(0.0, wall0 + outage_from + 0.5 - time.time()))
            fault_at = time.monotonic()
            say(f"bank {down} down for {o.outage_s:.0f} s; load goes on")
            await loader.run(requests[half:])
            await asyncio.sleep(max(0.0, wall0 + outage_from + o.outage_s - time.time()))
            say(f"bank {down} up again")
            figs = await stage.figures("bank-outage", loader, fault_at, o.settle_s, bank_down=down, outage_s=o.outage_s)
            rows = await stage.entry_to_hold()  # the database is still up: only the stage stopped
            figs.update(outage_figures(rows, down, wall0 + outage_from, wall0 + outage_from + o.outage_s))
        finally:
            await stop_all(started)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(server.stop, "fast")
    return figs


def outage_figures(rows: list[Any], down: str, outage_from: float, outage_to: float) -> dict[str, Any]:
    """Level-1 entry-to-hold at the banks that stayed up, for cases accepted before the outage and
    during it (``rows``: bank_code, accepted_at in epoch seconds, ms)."""

    def ms(during: bool) -> list[float]:
        lo, hi = (outage_from, outage_to) if during else (float("-inf"), outage_from)
        return [r["ms"] for r in rows if r["bank_code"] != down and lo <= r["accepted_at"] < hi]

    normal, others = ms(False), ms(True)
    p50n, p50o = figures.median(normal), figures.median(others)
    waited = [r for r in rows if r["bank_code"] == down and outage_from <= r["accepted_at"] < outage_to]
    down_bank = [r["ms"] for r in waited]
    caught_up = max((r["accepted_at"] + r["ms"] / 1000 for r in waited), default=None)
    return {
        "others_entry_to_hold_ms_normal_p50": _round(p50n),
        "others_entry_to_hold_ms_normal_p95": _round(figures.percentile(normal, 0.95)),
        "others_entry_to_hold_ms_outage_p50": _round(p50o),
        "others_entry_to_hold_ms_outage_p95": _round(figures.percentile(others, 0.95)),
        "others_holds_counted": [len(normal), len(others)],
        "others_ratio_p50": None if not (p50n and p50o) else round(p50o / p50n, 2),
        "others_within_2x": bool(p50n and p50o and p50o <= 2 * p50n),
        "down_bank_entry_to_hold_ms_p50": _round(figures.median(down_bank)),
        # from the bank's return to the last hold there of a case accepted while it was down
        "recovery_s": None if caught_up is None else round(caught_up - outage_to, 2),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


DRILLS: dict[str, Callable[[Options], Awaitable[dict[str, Any]]]] = {
    "failover": failover,
    "db-restart": db_restart,
    "kill-replicas": kill_replicas,
    "bank-outage": bank_outage,
}


async def run(name: str, options: Options) -> dict[str, Any]:
    return await DRILLS[name](options)

"""Entry to hold: how long after SubmitEntry is accepted each level of seed-xue holds money, with
every simulated bank answering after a configured latency, against one bank round trip per level."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg

from bench import load
from bench.drain import SEED_XUE, seed_entries
from bench.sql import query
from stopay import bootstrap
from stopay.config import Settings

if TYPE_CHECKING:
    from bench.run import Databases


def slow_network(workdir: Path, latency_ms: int) -> Path:
    """seed-xue with every bank answering after ``latency_ms``."""
    data = json.loads(SEED_XUE.read_text(encoding="utf-8"))
    for bank in data["banks"]:
        bank["latency_ms"] = latency_ms
    path = workdir / f"seed-xue-{latency_ms}ms.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


async def one_case(dsn: str, network: Path) -> dict[int, float]:
    """Serves ``network`` with a dispatcher (default settings), submits its entry, waits for every
    order to end; returns milliseconds to the first hold per level."""
    epoch = datetime.now(UTC)
    app = await bootstrap.build(Settings(listen="127.0.0.1:0", dsn=dsn, bank_networks=(network,), network_epoch=epoch))
    await app.start()
    conn = await asyncpg.connect(dsn)
    try:
        await load.drive(f"127.0.0.1:{app.port}", seed_entries(network, epoch, 1), 1)
        began = time.perf_counter()
        while (await conn.fetchrow(query("drain_progress")))["open_orders"]:
            if time.perf_counter() - began > 120:
                raise RuntimeError("seed-xue's orders were still open after 120 s")
            await asyncio.sleep(0.02)
        return {row["level"]: row["ms"] for row in await conn.fetch(query("hold_timings"))}
    finally:
        await conn.close()
        await app.stop()


async def hold_part(args: argparse.Namespace, dbs: Databases, workdir: Path, say: Callable[[str], None]) -> None:
    latency = args.bank_latency_ms
    network = slow_network(workdir, latency)
    per_level: dict[int, list[float]] = {}
    for r in range(1, args.rounds + 1):
        timings = await one_case(await dbs.new(f"hold{r}"), network)
        say(f"  round {r}: " + ", ".join(f"level {level} held after {ms:.0f} ms" for level, ms in timings.items()))
        for level, ms in timings.items():
            per_level.setdefault(level, []).append(ms)
    for level, values in sorted(per_level.items()):
        ms = load.median(values)
        bound = level * latency
        say(
            f"seed-xue entry-to-hold level {level} (bank latency {latency} ms, median of {len(values)}): "
            f"stopay {ms:.0f} ms, {level} bank round trip{'s' if level > 1 else ''} {bound} ms, "
            f"ratio {ms / bound if bound else float('nan'):.2f}"
        )

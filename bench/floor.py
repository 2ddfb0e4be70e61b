"""What the writes stopay must do cost on their own, with no gRPC and no dispatcher around them: the
highest ratio each path could reach on this machine (docs/performance.md, "The floor").

- Store alone: ``stopay.store.entries.submit`` called straight, as many in flight as the SubmitEntry
  part, the entries converted before the clock starts. A SubmitEntry call does this and more, so
  its throughput cannot pass this one's.
- The chain alone: one hash-chained event per case, written in batches the size of the dispatch
  batch by two connections at once. Every recorded bank answer writes at least one such event
  besides what a no-op job of pgqueuer costs (its claim and its completion), so the dispatch ratio
  cannot pass chain / (chain + pgqueuer)."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from bench import load
from bench.sql import query
from stopay.api.validation import entry_from_request
from stopay.domain.clock import SYSTEM_CLOCK
from stopay.domain.entry import Entry
from stopay.domain.trail import Limits
from stopay.store import entries
from stopay.store.database import open_pool

if TYPE_CHECKING:
    from bench.run import Databases

POOL = 16  # stopay's pool at batch 64, as the ceiling's
CHAIN_WRITERS = 2


async def store_alone(dsn: str, count: int, concurrency: int, warm: int) -> float:
    """Entries per second through the store alone."""
    pool = await open_pool(dsn, min_size=POOL, max_size=POOL)
    try:
        now = SYSTEM_CLOCK.now()
        made = [entry_from_request(r, now) for r in load.entries(warm + count)]
        limits = Limits()

        async def run(todo: list[Entry]) -> None:
            it = iter(todo)

            async def worker() -> None:
                for entry in it:
                    await entries.submit(pool, entry, limits, "station:bench")

            await asyncio.gather(*(worker() for _ in range(concurrency)))

        await run(made[:warm])
        began = time.perf_counter()
        await run(made[warm:])
        return count / (time.perf_counter() - began)
    finally:
        await pool.close()


async def chain_alone(dsn: str, cases: int, batch: int, events: int) -> float:
    """Chained events per second, ``batch`` to a transaction, over ``cases`` cases."""
    pool = await open_pool(dsn, min_size=CHAIN_WRITERS, max_size=CHAIN_WRITERS, run_migrations=False)
    try:
        ids = [r["case_id"] for r in await pool.fetch(query("floor_cases"), cases)]
        if not ids:
            raise RuntimeError("the floor part found no case to write events of")
        batches = [ids[i : i + batch] for i in range(0, len(ids), batch)]
        todo = iter([batches[i % len(batches)] for i in range(-(-events // batch))])
        written = 0

        async def writer() -> None:
            nonlocal written
            for some in todo:
                async with pool.acquire() as conn, conn.transaction():
                    await conn.execute(query("floor_event"), some)
                written += len(some)

        began = time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(CHAIN_WRITERS)))
        return written / (time.perf_counter() - began)
    finally:
        await pool.close()


async def floor_part(
    args: argparse.Namespace,
    dbs: Databases,
    say: Callable[[str], None],
    ceiling: float | None,
    pgqueuer: float | None,
) -> None:
    """``ceiling``: the SubmitEntry part's median ceiling throughput; ``pgqueuer``: the dispatch
    part's median no-op drain; None when that part did not run."""
    stores: list[float] = []
    chains: list[float] = []
    for r in range(1, args.rounds + 1):
        dsn = await dbs.new(f"floor{r}")
        stores.append(await store_alone(dsn, args.requests, args.concurrency, min(200, args.requests)))
        chains.append(await chain_alone(dsn, args.entries, args.batch, 10 * args.entries))
        say(f"  round {r}: store alone {stores[-1]:.0f} entries/s, chain alone {chains[-1]:.0f} events/s")
    store, chain = load.median(stores), load.median(chains)
    label = f"floor (median of {args.rounds})"
    if ceiling is None:
        say(f"{label} store alone, {args.concurrency} in flight: {store:.0f} entries/s (run with submit for the bound)")
    else:
        say(
            f"{label} store alone, {args.concurrency} in flight: {store:.0f} entries/s, ceiling {ceiling:.0f}/s: "
            f"the SubmitEntry ratio cannot pass {store / ceiling:.2f}"
        )
    if pgqueuer is None:
        say(f"{label} chain alone, batch {args.batch}: {chain:.0f} events/s (run with dispatch for the bound)")
    else:
        say(
            f"{label} chain alone, batch {args.batch}: {chain:.0f} events/s, pgqueuer {pgqueuer:.0f} jobs/s: "
            f"the dispatch ratio cannot pass {chain / (chain + pgqueuer):.2f}"
        )

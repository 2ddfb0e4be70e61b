"""A generated trail settled: one victim's case that opens ``1 + 4 + 16 + 64 + 256 + 1,024 =
1,365`` freeze orders, from its SubmitEntry until no order of it is open, against the same
dispatcher working as many independent orders (single-order cases, queued), alternated in one run.

Both networks come from :func:`bank_adapters.simulated.generator.tree`: in the trail, the victim
pays one level-1 account, and every account down to level 5 keeps ¥200 and forwards the rest to 4
new accounts one level deeper; the 1,024 accounts at level 6 keep what they get. The cases are
traced with ``max_depth`` 6 (the tree's depth, one level deeper than the default 5, so the level-1
account and its five levels of fan-out are all followed) and ``min_amount`` ¥100, below the ¥200
every transfer of the tree carries at least. So the case opens one order per account, 1,365, and
holds ¥200 at each. The independent network is ``tree(levels=1, victims=1365)``: 1,365 victims,
each paying a mule account of its own that keeps the ¥200. Every order, in both, is one statement
and one freeze: the same bank answers per order, so the ratio is the cost of the trail's levels."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg

from bank_adapters.simulated.generator import tree
from bank_adapters.simulated.scenario import load_scenario
from bench import load
from bench.drain import dispatching, queue, seed_entries, settled, stopay_drain
from bench.sql import query
from stopay import bootstrap
from stopay.domain.trail import Limits

if TYPE_CHECKING:
    from bench.run import Databases

KEPT = 20_000  # fen every mule account of the tree keeps: ¥200
POLL_S = 0.02  # how often both sides look for open orders


def orders_of(fan_out: int, levels: int) -> int:
    return sum(fan_out**level for level in range(levels))


def write_networks(workdir: Path, fan_out: int, levels: int) -> tuple[Path, Path]:
    """The trail's network and the independent orders' network, as files for the simulated banks."""
    paths = []
    for name, doc in (
        ("trail", tree(fan_out=fan_out, levels=levels, kept=KEPT, seed=1)),
        ("independent", tree(levels=1, victims=orders_of(fan_out, levels), kept=KEPT, seed=2)),
    ):
        path = workdir / f"{name}-{fan_out}x{levels}.json"
        path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        paths.append(path)
    return paths[0], paths[1]


def limits_of(network: Path) -> Limits:
    """The tracing policy of the network's check: max_depth the tree's depth, min_amount ¥100."""
    check = load_scenario(network).checks[0]
    return Limits(check.rule, check.max_depth, check.min_amount)


async def trail_settle(dsn: str, network: Path, batch: int, limits: Limits) -> tuple[int, int, float]:
    """A stopay with a dispatcher, started and idle; its one entry submitted. Returns (bank
    answers, orders, seconds) from the SubmitEntry call until no order is open."""
    epoch = datetime.now(UTC)
    app = await bootstrap.build(dispatching(dsn, network, epoch, batch, limits))
    await app.start()
    conn = await asyncpg.connect(dsn)
    try:
        request = seed_entries(network, epoch, 1)
        began = time.perf_counter()
        await load.drive(f"127.0.0.1:{app.port}", request, 1)
        return await settled(conn, began, POLL_S)
    finally:
        await conn.close()
        await app.stop()


async def independent_settle(dsn: str, network: Path, count: int, batch: int, limits: Limits) -> tuple[int, int, float]:
    """``count`` single-order cases queued through a stopay without a dispatcher; then a stopay with
    a dispatcher starts. Returns (bank answers, orders, seconds) from its start until no order is
    open, as the dispatch part counts."""
    epoch = datetime.now(UTC)
    await queue(dsn, seed_entries(network, epoch, count), limits)
    return await stopay_drain(dsn, network, epoch, batch, limits, POLL_S)


async def holds_as_known(dsn: str, network: Path) -> None:
    """The trail did what the tree says: one freeze order per account, each holding what it kept."""
    expected = dict(load_scenario(network).checks[0].expect_held)
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(query("trail_holds"))
    finally:
        await conn.close()
    held = {f"{row['bank_code']}:{row['account_number']}": row["held_minor"] for row in rows}
    if held != expected or any(row["orders"] != 1 for row in rows):
        wrong = sum(1 for account in set(held) | set(expected) if held.get(account) != expected.get(account))
        again = sum(1 for row in rows if row["orders"] != 1)
        raise RuntimeError(
            f"the trail is not the tree's: holds differ at {wrong} of {len(expected)} accounts, "
            f"{again} accounts without exactly one freeze order"
        )


async def trail_part(args: argparse.Namespace, dbs: Databases, workdir: Path, say: Callable[[str], None]) -> None:
    fan_out, levels = args.trail_fan_out, args.trail_levels
    count = orders_of(fan_out, levels)
    trail_net, independent_net = write_networks(workdir, fan_out, levels)
    limits = limits_of(trail_net)  # the same policy for both sides
    seconds: dict[str, list[float]] = {"trail": [], "independent": []}
    for r in range(1, args.rounds + 1):
        dsn = await dbs.new(f"trail{r}")
        answers, orders, s = await trail_settle(dsn, trail_net, args.batch, limits)
        await holds_as_known(dsn, trail_net)
        seconds["trail"].append(s)
        say(f"  round {r} trail: 1 case, {orders} orders, {answers} bank answers, settled {s:.2f} s after submit")
        dsn = await dbs.new(f"independent{r}")
        answers, orders, s = await independent_settle(dsn, independent_net, count, args.batch, limits)
        seconds["independent"].append(s)
        say(f"  round {r} independent: {count} cases, {orders} orders, {answers} bank answers in {s:.2f} s")
    t, i = load.median(seconds["trail"]), load.median(seconds["independent"])
    say(
        f"trail settled ({count:,} orders: fan-out {fan_out}, {levels} levels, batch {args.batch}, "
        f"median of {args.rounds}): stopay {t:.2f} s, as many independent single-order cases {i:.2f} s, "
        f"ratio {t / i:.2f}"
    )

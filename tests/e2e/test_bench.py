"""The benchmark runs end to end at tiny sizes and prints each figure with its ratio. It times
nothing itself: a benchmark reports, the suite does not fail on a slow machine (docs/performance.md).
E2e: the benchmark starts stopay and its ceiling server as processes of their own."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

TINY = [
    *("--rounds", "1", "--requests", "50", "--concurrency", "4", "--entries", "5", "--bank-latency-ms", "5"),
    *("--trail-fan-out", "3", "--trail-levels", "3"),
]
RATIO = r": stopay \d+(\.\d+)?[^,]*, [^,]+, ratio \d+\.\d\d$"


def bench(server_dsn: str, *args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--dsn", server_dsn, *TINY, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.splitlines()


def figure(lines: list[str], name: str) -> str:
    found = [line for line in lines if line.startswith(name)]
    assert len(found) == 1, f"{name!r} once in:\n" + "\n".join(lines)
    assert re.search(RATIO, found[0]), found[0]
    return found[0]


def test_submit_and_hold_figures_each_with_a_ratio(server_dsn: str) -> None:
    lines = bench(server_dsn, "--only", "submit,hold,floor")
    for machine in ("date: ", "machine: ", "PostgreSQL ", "Python "):
        assert any(line.startswith(machine) for line in lines), machine
    assert "synchronous_commit=on" in next(line for line in lines if line.startswith("PostgreSQL "))
    assert "ceiling" in figure(lines, "SubmitEntry (4 in flight, median of 1) throughput")
    figure(lines, "SubmitEntry (4 in flight, median of 1) p50")
    figure(lines, "SubmitEntry (4 in flight, median of 1) p99")
    # CPU per call: 50 calls may be too few for the kernel's ticks, so the line may say so instead.
    for part in ("server process", "PostgreSQL backends"):
        assert any(line.startswith(f"SubmitEntry (4 in flight, median of 1) CPU per call, {part}: ") for line in lines)
    # seed-xue holds money at levels 1 and 2; level 3's money left at an ATM.
    assert "1 bank round trip 5 ms" in figure(lines, "seed-xue entry-to-hold level 1")
    assert "2 bank round trips 10 ms" in figure(lines, "seed-xue entry-to-hold level 2")
    assert not any(line.startswith("seed-xue entry-to-hold level 3") for line in lines)
    # The floor: the store alone bounds SubmitEntry's ratio, taken against the same run's ceiling.
    (store,) = [line for line in lines if line.startswith("floor (median of 1) store alone")]
    assert re.search(r": \d+ entries/s, ceiling \d+/s: the SubmitEntry ratio cannot pass \d\.\d\d$", store), store
    (chain,) = [line for line in lines if line.startswith("floor (median of 1) chain alone, batch 64")]
    assert re.search(r": \d+ events/s \(run with dispatch for the bound\)$", chain), chain


def test_dispatch_figure_against_pgqueuer(server_dsn: str) -> None:
    pytest.importorskip("pgqueuer", reason="the bench extra: pip install '.[bench]'")
    lines = bench(server_dsn, "--only", "dispatch")
    line = figure(lines, "dispatch (batch 64, one process, median of 1) throughput")
    assert "pgqueuer" in line
    # 5 seed-xue entries, each traced as its own case: 3 freeze orders and their 3 stops each, and
    # 6 bank answers: 3 statements and the 3 stops' freezes (each stop asks for the money its freeze
    # order would, so no freeze order sends a freeze of its own).
    assert any("5 entries, 30 orders, 30 bank answers" in line for line in lines), lines


def test_watch_figures_of_one_replica_with_its_streams(server_dsn: str) -> None:
    tiny = ["--watch-streams", "12", "--watch-idle-streams", "20", "--watch-cases", "4", "--watch-quiet-s", "1"]
    lines = bench(server_dsn, "--only", "watch", *tiny, "--watch-gets", "10")
    assert "target 150 MB" in figure(lines, "WatchCase RSS with 12 streams open")
    assert "target 5%" in figure(lines, "WatchCase server CPU with 20 idle streams over 1 s")
    assert "without streams" in figure(lines, "GetCase p50 with 20 idle WatchCase streams (10 calls)")
    # Every stream had its first update (the time is reported, not judged).
    assert any(
        line.startswith("WatchCase first update, 12 streams opened at once over 4 cases: 12 of 12 streams, ")
        for line in lines
    ), lines
    assert any(line.startswith("WatchCase first update, 8 more streams: 8 of 8 streams, ") for line in lines), lines
    # A change of one case reached all 3 streams watching it then.
    assert any(line.startswith("WatchCase a change of one case, seen by all its 3 streams: ") for line in lines), lines


def test_trail_figure_against_as_many_independent_orders(server_dsn: str) -> None:
    lines = bench(server_dsn, "--only", "trail")
    line = figure(lines, "trail settled (13 orders: fan-out 3, 3 levels, batch 64, median of 1)")
    assert "independent single-order cases" in line
    # A tree of fan-out 3 over 3 levels: 1 + 3 + 9 accounts, a freeze order and its stop each, a
    # statement and the stop's freeze per account; the benchmark checks the trail's holds against
    # the tree's before it prints.
    assert any("1 case, 26 orders, 26 bank answers" in line for line in lines), lines
    assert any("13 cases, 26 orders, 26 bank answers" in line for line in lines), lines

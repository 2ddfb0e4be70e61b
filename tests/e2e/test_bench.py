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
    lines = bench(server_dsn, "--only", "submit,hold")
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


def test_dispatch_figure_against_pgqueuer(server_dsn: str) -> None:
    pytest.importorskip("pgqueuer", reason="the bench extra: pip install '.[bench]'")
    lines = bench(server_dsn, "--only", "dispatch")
    line = figure(lines, "dispatch (batch 64, one process, median of 1) throughput")
    assert "pgqueuer" in line
    # 5 seed-xue entries, each traced as its own case: 3 orders and 5 bank answers each.
    assert any("5 entries, 15 orders, 25 bank answers" in line for line in lines), lines


def test_trail_figure_against_as_many_independent_orders(server_dsn: str) -> None:
    lines = bench(server_dsn, "--only", "trail")
    line = figure(lines, "trail settled (13 orders: fan-out 3, 3 levels, batch 64, median of 1)")
    assert "independent single-order cases" in line
    # A tree of fan-out 3 over 3 levels: 1 + 3 + 9 accounts, one order each, a statement and a
    # freeze per order; the benchmark checks the trail's holds against the tree's before it prints.
    assert any("1 case, 13 orders, 26 bank answers" in line for line in lines), lines
    assert any("13 cases, 13 orders, 26 bank answers" in line for line in lines), lines

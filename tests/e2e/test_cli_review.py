"""Mistakes a newcomer meets with the command line: each is one line on stderr naming what is wrong
(the file, the flag, the path), with its status from docs/cli.md, and nothing else: no traceback, no
line of gRPC's own."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

SEED = Path(__file__).parents[2] / "stopay" / "examples" / "seed-xue.json"
UNUSED = "127.0.0.1:1"  # nothing answers here: a check that needs the server would exit 3


def stopay(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stopay.cli.main", *args], capture_output=True, text=True, timeout=60, env=env
    )


@pytest.mark.parametrize(
    "flag, value", [("--since", "0001-01-01T00:00:00+08:00"), ("--until", "9999-12-31T23:00:00-08:00")]
)
def test_a_time_beyond_the_years_utc_can_hold_is_a_usage_error(flag: str, value: str) -> None:
    done = stopay("audit", "export", flag, value, "--server", UNUSED)
    assert done.returncode == 2, done.stderr
    assert f"argument {flag}: '{value}' is not a time between the years 1 and 9999" in done.stderr
    assert "Traceback" not in done.stderr and "unexpected error" not in done.stderr


def test_output_to_a_directory_is_refused_before_the_call(tmp_path: Path) -> None:
    done = stopay("audit", "export", "--output", str(tmp_path), "--server", UNUSED)
    assert (done.returncode, done.stderr.strip()) == (
        2,
        f"stopay audit export: cannot write {tmp_path}: it is a directory",
    )
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


async def test_a_port_file_that_cannot_be_written_stops_serve_cleanly(dsn: str, tmp_path: Path) -> None:
    # serve has started by then: it must stop what it started, not leave it to the garbage collector.
    port_file = tmp_path / "missing" / "port"
    done = await asyncio.to_thread(
        stopay,
        "serve",
        "--insecure",
        "--no-dispatcher",
        "--dsn",
        dsn,
        "--listen",
        "127.0.0.1:0",
        "--port-file",
        str(port_file),
    )
    problems = [line for line in done.stderr.splitlines() if not line.startswith("{")]  # JSON lines: logs
    assert (done.returncode, problems) == (
        2,
        [f"stopay serve: cannot write the port file {port_file}: No such file or directory"],
    )


async def test_serve_on_the_embedded_database_says_nothing_of_grpc_s_fork_handlers(tmp_path: Path) -> None:
    # Stopping the embedded PostgreSQL runs its programs; gRPC's fork support, if enabled when gRPC
    # is imported, prints a line of its own ("skipping fork() handlers") on stderr.
    port_file = tmp_path / "missing" / "port"
    # As a user starts it: the tests' own setting of gRPC's fork support is not passed on.
    env = {k: v for k, v in os.environ.items() if k != "GRPC_ENABLE_FORK_SUPPORT"}
    done = await asyncio.to_thread(
        stopay,
        "serve",
        "--insecure",
        "--bank-network",
        str(SEED),
        "--data-dir",
        str(tmp_path / "pgdata"),
        "--listen",
        "127.0.0.1:0",
        "--port-file",
        str(port_file),
        env=env,
    )
    problems = [line for line in done.stderr.splitlines() if not line.startswith("{")]
    assert (done.returncode, problems) == (
        2,
        [f"stopay serve: cannot write the port file {port_file}: No such file or directory"],
    )


@pytest.mark.parametrize(
    "command",
    [["bank-sim", "--insecure"], ["serve", "--insecure", "--no-dispatcher", "--dsn", "postgresql://x@127.0.0.1:1/x"]],
)
def test_a_bank_network_that_is_not_valid_is_named(command: list[str], tmp_path: Path) -> None:
    network = tmp_path / "network.json"
    network.write_text("{}", encoding="utf-8")
    done = stopay(*command, "--bank-network", str(network), "--listen", "127.0.0.1:0")
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"stopay {command[0]}: {network}: ") and done.stderr.count("\n") == 1, done.stderr


def test_bank_sim_names_a_port_file_it_cannot_write(tmp_path: Path) -> None:
    port_file = tmp_path / "missing" / "port"
    done = stopay(
        "bank-sim", "--insecure", "--bank-network", str(SEED), "--listen", "127.0.0.1:0", "--port-file", str(port_file)
    )
    problems = [line for line in done.stderr.splitlines() if not line.startswith("{")]
    assert (done.returncode, problems) == (
        2,
        [f"stopay bank-sim: cannot write the port file {port_file}: No such file or directory"],
    )

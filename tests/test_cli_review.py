"""Client mistakes found on a newcomer's second pass: each is one line naming what is wrong, with the
status of docs/cli.md, before any call is made."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

UNUSED = "127.0.0.1:1"  # nothing answers here: a check that needs the server would exit 3


def stopay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stopay.cli.main", *args], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("flag, value", [("--since", "0001-01-01T00:00:00+08:00"),
                                         ("--until", "9999-12-31T23:00:00-08:00")])
def test_a_time_beyond_the_years_utc_can_hold_is_a_usage_error(flag: str, value: str) -> None:
    done = stopay("audit", "export", flag, value, "--server", UNUSED)
    assert done.returncode == 2, done.stderr
    assert f"argument {flag}: '{value}' is not a time between the years 1 and 9999" in done.stderr
    assert "Traceback" not in done.stderr and "unexpected error" not in done.stderr


def test_output_to_a_directory_is_refused_before_the_call(tmp_path: Path) -> None:
    done = stopay("audit", "export", "--output", str(tmp_path), "--server", UNUSED)
    assert (done.returncode, done.stderr.strip()) == (2, f"stopay audit export: cannot write {tmp_path}: it is a "
                                                         "directory")
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind

"""The whole suite's log check (tests/logcheck.py, run at the end of every session by conftest.py)
can fail: a whole number or name logged through stopay's own pipeline, in a process of its own, is
found, and the same line with the value masked is not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import logcheck

ACCOUNT = "6222020200001111111"
SHORT_ACCOUNT = "ACCOUNTMULE7"  # too short for the masker's pattern: only the list of numbers finds it
ID_NUMBER = "11010519491231002X"
VICTIM = "测试受害人"

CHILD = """
import structlog
from stopay import logs
logs.configure("debug", json=True)
log = structlog.get_logger("leaky")
log.info("hold.asked", account_number=%(account)r)                     # masked by key
log.info("freeze " + %(account)r + " now")                              # masked in free text
log.info("statement.asked", account=%(short)r)                          # short, not masked: a leak
log.info("entry.accepted", victim=%(victim)r)                           # a name: a leak
log.info("entry.amount", held_minor=999999999999999, case_id="0b9d6f1e-1234-4e2a-9c41-123456789012")
"""


def _child_lines(tmp_path: Path) -> list[str]:
    out = tmp_path / "child.jsonl"
    code = CHILD % {"account": ACCOUNT, "short": SHORT_ACCOUNT, "victim": VICTIM}
    env = {**os.environ, "STOPAY_LOG_FILE": str(out)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines == done.stderr.splitlines()  # the copy is what the process wrote to stderr
    return lines


def _secrets() -> logcheck.Secrets:
    secrets = logcheck.Secrets()
    secrets.from_network(
        {
            "accounts": [
                {"id": f"BK:{SHORT_ACCOUNT}", "holder": "某某"},
                {"id": f"ICBC:{ACCOUNT}", "holder": "王某某"},
            ],
            "checks": [{"entries": [{"victim": VICTIM}]}],
        }
    )
    return secrets


def test_the_check_finds_what_a_child_process_leaked(tmp_path: Path) -> None:
    lines = _child_lines(tmp_path)
    assert len(lines) == 5
    found = logcheck.leaks(lines, _secrets())
    assert [what for what, _ in found] == [f"account or identity number {SHORT_ACCOUNT}", f"name {VICTIM!r}"]
    assert [json.loads(line)["event"] for _, line in found] == ["statement.asked", "entry.accepted"]


@pytest.mark.parametrize(
    ("line", "what"),
    [
        (json.dumps({"event": f"paid {ACCOUNT}"}), "a run of 19 digits"),
        (json.dumps({"event": "x", "detail": {"id": ID_NUMBER}}), f"identity number {ID_NUMBER}"),
        (f"not json: to {ACCOUNT}", "a run of 19 digits"),
        (json.dumps({"event": "x", "holder": "王某某"}), "name '王某某'"),
    ],
)
def test_the_check_finds_whole_numbers_and_names(line: str, what: str) -> None:
    assert logcheck.leaks([line], _secrets()) == [(what, line)]


@pytest.mark.parametrize(
    "line",
    [
        json.dumps({"event": "x", "account": "ICBC:6222***********1111", "held_minor": 580000000000000}),
        json.dumps({"event": "x", "case_id": "0b9d6f1e-1234-4e2a-9c41-123456789012"}),
        json.dumps({"event": "x", "hash": "0123456789012a" + "0" * 50}),
        json.dumps({"event": "x", "victim": "测**"}),
    ],
)
def test_the_check_lets_masked_values_ids_and_amounts_be(line: str) -> None:
    assert logcheck.leaks([line], _secrets()) == []

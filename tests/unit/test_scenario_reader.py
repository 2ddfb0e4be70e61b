"""The scenario reader accepts the seed files and rejects every broken rule, naming the field."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bank_adapters.protocol import ExitKind
from bank_adapters.simulated.scenario import ScenarioError, load_scenario, parse_scenario

EXAMPLES = Path(__file__).resolve().parents[2] / "stopay" / "examples"


def base() -> dict[str, Any]:
    return {
        "format": "stopay-bank-network/1",
        "name": "tiny",
        "currency": "CNY",
        "banks": [{"code": "ICBC", "name": "ICBC"}, {"code": "ABC", "name": "ABC"}],
        "accounts": [
            {"id": "ICBC:6222000001", "holder": "王某", "opening_balance": 500},
            {"id": "ABC:6228000002", "holder": "李某", "opening_balance": 0},
        ],
        "ledger": [
            {"seq": 1, "at": -100, "from": "ICBC:6222000001", "to": "ABC:6228000002", "amount": 300, "txn_id": "T1"},
            {"seq": 2, "at": -50, "from": "ABC:6228000002", "exit": "ATM", "amount": 200, "txn_id": "T2"},
        ],
    }


def test_every_seed_file_loads() -> None:
    files = sorted(f for f in EXAMPLES.glob("*.json") if not f.stem.startswith("entry-"))  # entries are not networks
    assert [f.stem for f in files] == ["rules-worked-example", "seed-chen", "seed-xue"]
    for f in files:
        scenario = load_scenario(f)
        assert scenario.name == f.stem
        assert scenario.currency == "CNY"


def test_seed_xue_is_read_exactly() -> None:
    s = load_scenario(EXAMPLES / "seed-xue.json")
    assert [b.code for b in s.banks] == ["CQRCB", "ICBC", "ABC", "CCB"]
    assert s.bank("ABC").latency_ms == 60 and s.bank("ABC").mode == "sync"
    assert s.account("ICBC:6222020200001111111").holder == "王某某"
    assert s.account("CQRCB:6214830000000580").opening_balance == 100_000_000
    t4 = s.event("XUE-T4")
    assert (t4.seq, t4.at, t4.from_account, t4.to_account, t4.exit, t4.amount) == (
        4,
        -700,
        "CCB:6217000000003333333",
        None,
        ExitKind.ATM,
        2_000_000,
    )
    assert s.epoch is None
    check = s.checks[0]
    assert (check.name, check.rule, check.max_depth, check.min_amount) == ("three-levels", "libr", 5, 10_000)
    assert check.entries[0].transfers == ("XUE-T1",)
    assert check.expect_held == {"ICBC:6222020200001111111": 35_000_000, "ABC:6228480000002222222": 21_000_000}
    assert check.expect_exited == 2_000_000


def test_optional_parts_and_x_keys() -> None:
    data = base()
    data["x-generator"] = {"anything": True}
    data["banks"][0]["x-note"] = "ignored"
    data["epoch"] = "2025-03-01T10:00:00+08:00"
    data["banks"][1].update(latency_ms=25, mode="callback", outages=[[10, 20.5]])
    data["ledger"].reverse()  # file order does not matter, (at, seq) does
    data["ledger"].append(
        {"seq": 3, "at": 60, "from": "ICBC:6222000001", "to": "ABC:6228000002", "amount": 10_000, "txn_id": "LATER"}
    )
    s = parse_scenario(data)
    assert s.epoch == datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
    assert s.epoch.utcoffset() == timedelta(hours=8)
    assert s.bank("ABC").outages == ((10, 20.5),) and s.bank("ABC").mode == "callback"
    assert [e.txn_id for e in s.ledger] == ["T1", "T2", "LATER"]  # future overdraw is fine
    assert s.checks == ()


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


INVALID = [
    ("unknown top-level key", _set(["colour"], "red"), r"^colour: unknown key"),
    ("wrong format", _set(["format"], "stopay-bank-network/2"), r"^format: "),
    ("missing ledger", lambda d: d.pop("ledger"), r"^ledger: is required"),
    ("bad name", _set(["name"], "Tiny Net"), r"^name: must match"),
    ("bad bank code", _set(["banks", 0, "code"], "icbc"), r"^banks\[0\]\.code: must match"),
    ("duplicate bank", _set(["banks", 1, "code"], "ICBC"), r"^banks\[1\]\.code: duplicate"),
    ("bad mode", _set(["banks", 0, "mode"], "async"), r"^banks\[0\]\.mode: "),
    ("bad outage", _set(["banks", 0, "outages"], [[20, 10]]), r"^banks\[0\]\.outages\[0\]: "),
    ("unknown bank key", _set(["banks", 0, "colour"], 1), r"^banks\[0\]\.colour: unknown key"),
    ("unlisted bank", _set(["accounts", 0, "id"], "CCB:6222000001"), r"^accounts\[0\]\.id: bank 'CCB' is not listed"),
    ("short number", _set(["accounts", 0, "id"], "ICBC:12345"), r"^accounts\[0\]\.id: must be"),
    ("lowercase number", _set(["accounts", 0, "id"], "ICBC:abc123456"), r"^accounts\[0\]\.id: "),
    ("duplicate account", _set(["accounts", 1, "id"], "ICBC:6222000001"), r"^accounts\[1\]\.id: duplicate"),
    (
        "negative opening",
        _set(["accounts", 1, "opening_balance"], -1),
        r"^accounts\[1\]\.opening_balance: must be at least 0",
    ),
    (
        "float opening",
        _set(["accounts", 1, "opening_balance"], 1.5),
        r"^accounts\[1\]\.opening_balance: must be an integer",
    ),
    ("zero amount", _set(["ledger", 1, "amount"], 0), r"^ledger\[1\]\.amount: must be a positive integer"),
    ("float amount", _set(["ledger", 1, "amount"], 200.0), r"^ledger\[1\]\.amount: must be an integer"),
    ("bool amount", _set(["ledger", 1, "amount"], True), r"^ledger\[1\]\.amount: must be an integer"),
    ("duplicate seq", _set(["ledger", 1, "seq"], 1), r"^ledger\[1\]\.seq: duplicate seq 1"),
    ("seq against at", _set(["ledger", 1, "at"], -200), r"^ledger\[0\]\.seq: 1 at -100 does not increase with at"),
    ("to and exit", _set(["ledger", 0, "exit"], "CASH"), r"^ledger\[0\]: exactly one of 'to' and 'exit'"),
    ("neither to nor exit", lambda d: d["ledger"][1].pop("exit"), r"^ledger\[1\]: exactly one of 'to' and 'exit'"),
    ("bad exit", _set(["ledger", 1, "exit"], "BITCOIN"), r"^ledger\[1\]\.exit: must be one of"),
    (
        "unlisted payee",
        _set(["ledger", 0, "to"], "ABC:999999999"),
        r"^ledger\[0\]\.to: 'ABC:999999999' is not a listed account",
    ),
    ("duplicate txn_id", _set(["ledger", 1, "txn_id"], "T1"), r"^ledger\[1\]\.txn_id: duplicate txn_id 'T1'"),
    (
        "history overdraws",
        _set(["ledger", 1, "amount"], 301),
        r"^ledger\[1\]: event seq 2 \(txn_id T2\) overdraws ABC:6228000002: balance 300, amount 301",
    ),
    ("epoch without offset", _set(["epoch"], "2025-03-01T10:00:00"), r"^epoch: must be an ISO"),
    ("epoch garbage", _set(["epoch"], "yesterday"), r"^epoch: must be an ISO"),
    (
        "bad check rule",
        _set(
            ["checks"], [{"name": "c", "rule": "lucky", "max_depth": 5, "min_amount": 0, "entries": [], "expect": {}}]
        ),
        r"^checks\[0\]\.rule: must be one of",
    ),
    (
        "check names unknown txn",
        _set(
            ["checks"],
            [
                {
                    "name": "c",
                    "rule": "fifo",
                    "max_depth": 5,
                    "min_amount": 0,
                    "entries": [{"victim": "王某", "transfers": ["NOPE"]}],
                    "expect": {"held": {}},
                }
            ],
        ),
        r"^checks\[0\]\.entries\[0\]\.transfers\[0\]: 'NOPE' is not a ledger txn_id",
    ),
]


@pytest.mark.parametrize("change,message", [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_scenarios_are_rejected_naming_the_field(change: Callable[[dict[str, Any]], Any], message: str) -> None:
    data = copy.deepcopy(base())
    change(data)
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(data)


def test_base_is_valid() -> None:
    """Guards the table above: each case fails because of its change, not because of the base."""
    s = parse_scenario(base())
    assert [e.txn_id for e in s.ledger] == ["T1", "T2"]


def test_overdraw_by_a_later_event_in_a_real_seed(tmp_path: Path) -> None:
    data = json.loads((EXAMPLES / "seed-xue.json").read_text(encoding="utf-8"))
    data["ledger"][2]["amount"] = 23_000_001  # ABC has only 23,000,000 from XUE-T2
    with pytest.raises(ScenarioError, match=r"^ledger\[2\]: event seq 3 \(txn_id XUE-T3\)"):
        parse_scenario(data)


def test_file_level_errors(tmp_path: Path) -> None:
    dup = tmp_path / "dup.json"
    dup.write_text('{"format": "a", "format": "b"}', encoding="utf-8")
    with pytest.raises(ScenarioError, match="duplicate key 'format'"):
        load_scenario(dup)
    nan = tmp_path / "nan.json"
    nan.write_text(json.dumps(base()).replace('"at": -100', '"at": NaN'), encoding="utf-8")
    with pytest.raises(ScenarioError, match="NaN"):
        load_scenario(nan)
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(ScenarioError, match="not valid JSON"):
        load_scenario(broken)
    with pytest.raises(ScenarioError, match=r"^scenario: must be an object"):
        parse_scenario([])

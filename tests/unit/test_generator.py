"""The mule-network generator makes valid, deterministic and varied `stopay-bank-network/1`
scenarios."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from bank_adapters.protocol import Account, AnswerStatus, IncomingTransfer, StatementRequest
from bank_adapters.simulated.generator import generate, tree, write
from bank_adapters.simulated.scenario import load_scenario, parse_scenario
from bank_adapters.simulated.world import World
from tests.replay import replay

SEEDS = range(200)
NOW = datetime(2025, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=8)))
NUMBER = re.compile(r"[0-9A-Z]{6,34}")
BANK = re.compile(r"[A-Z][A-Z0-9]{1,10}")
HOLDER = re.compile(r"[\u4e00-\u9fff]某[0-9]+")


def victim_payments(doc: dict[str, Any]) -> list[str]:
    return [t for entry in doc["checks"][0]["entries"] for t in entry["transfers"]]


def victim_accounts(doc: dict[str, Any]) -> list[str]:
    by_txn = {e["txn_id"]: e for e in doc["ledger"]}
    return list(dict.fromkeys(by_txn[t]["from"] for t in victim_payments(doc)))


def features(doc: dict[str, Any]) -> Counter[str]:
    """Count, from the ledger alone, the shapes a tracer must cope with."""
    victims = set(victim_accounts(doc))
    tainted: dict[str, float] = {}  # account -> when the victims' money first reached it
    edges: dict[str, set[str]] = {}
    senders: dict[str, set[str]] = {}
    found: Counter[str] = Counter()
    for e in sorted(doc["ledger"], key=lambda e: (e["at"], e["seq"])):
        source, target = e["from"], e.get("to")
        if e["at"] > 0:
            found["future"] += 1
        if source is None:
            if target in tainted and e["at"] > tainted[target]:
                found["own deposit after victim money"] += 1
            continue
        if source in victims:
            tainted.setdefault(target, e["at"])
            continue
        if e["amount"] < 10_000:
            found["below 10000"] += 1
        if "exit" in e:
            found["exit"] += 1
            continue
        edges.setdefault(source, set()).add(target)
        senders.setdefault(target, set()).add(source)
        if source in tainted:
            tainted.setdefault(target, e["at"])

    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        stack = [start]
        while stack:
            for nxt in edges.get(stack.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    found["cycle"] = sum(1 for account in edges if account in reachable(account))
    # two payers of one account that are not downstream of it: two paths meet there
    found["merge"] = sum(1 for target, payers in senders.items() if len(payers - reachable(target)) >= 2)
    return found


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return [generate(seed) for seed in SEEDS]


def test_200_seeds_make_valid_small_networks(docs: list[dict[str, Any]]) -> None:
    for seed, doc in zip(SEEDS, docs, strict=True):
        scenario = parse_scenario(doc)
        assert doc["format"] == "stopay-bank-network/1" and doc["currency"] == "CNY"
        assert len(doc["banks"]) == 4 and all(BANK.fullmatch(b["code"]) for b in doc["banks"])
        assert len(scenario.accounts) <= 40 and len(scenario.ledger) <= 120
        for account in scenario.accounts:
            assert NUMBER.fullmatch(account.number) and HOLDER.fullmatch(account.holder)
        assert len({a.holder for a in scenario.accounts}) == len(scenario.accounts)
        for event in doc["ledger"]:
            assert type(event["at"]) is int and event["at"] <= 0  # no delays by default
            assert type(event["amount"]) is int and event["amount"] > 0
        (check,) = doc["checks"]
        assert {k: check[k] for k in ("name", "rule", "max_depth", "min_amount", "expect")} == {
            "name": "generated",
            "rule": "libr",
            "max_depth": 5,
            "min_amount": 10_000,
            "expect": {"held": {}},
        }
        (entry,) = check["entries"]
        payer = {scenario.event(t).from_account for t in entry["transfers"]}
        assert len(payer) == 1 and scenario.account(payer.pop()).holder == entry["victim"]
        assert len({scenario.event(t).to_account for t in entry["transfers"]}) == 1
        assert doc["x-generator"]["seed"] == seed


@pytest.mark.parametrize(
    "kw",
    [
        {"victims": 3},
        {"victims": 3, "delays": True, "fan_out": (2, 4), "depth": (3, 5)},
        {"victims": 5, "fan_out": (3, 5), "depth": (5, 8), "exit_ratio": 0.05},
        {"own_money": False, "banks": 14, "rule": "fifo"},
        {"victims": 20, "delays": True, "latency_ms": (10, 80)},
    ],
    ids=["3-victims", "wide-deep-delayed", "huge", "no-own-money", "many-victims"],
)
def test_other_parameters_stay_valid_and_within_the_caps(kw: dict[str, Any]) -> None:
    for seed in range(60):
        doc = generate(seed, **kw)
        scenario = parse_scenario(doc)
        assert len(scenario.accounts) <= 40 and len(scenario.ledger) <= 120
        assert len(doc["checks"][0]["entries"]) == kw.get("victims", 1)
        assert len(doc["banks"]) == kw.get("banks", 4)
        assert doc["checks"][0]["rule"] == kw.get("rule", "libr")
        if "latency_ms" in kw:
            assert all(10 <= b["latency_ms"] <= 80 for b in doc["banks"])


def test_same_seed_same_output_even_in_another_process() -> None:
    assert generate(7) == generate(7)
    assert generate(7, victims=3, delays=True) == generate(7, victims=3, delays=True)
    here = json.dumps(generate(11, victims=3, delays=True), ensure_ascii=False)
    code = (
        "import json; from bank_adapters.simulated.generator import generate; "
        "print(json.dumps(generate(11, victims=3, delays=True), ensure_ascii=False))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONIOENCODING": "utf-8"}
    there = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, check=True, encoding="utf-8"
    ).stdout.strip()
    assert there == here


def test_different_seeds_differ(docs: list[dict[str, Any]]) -> None:
    ledgers = {json.dumps(doc["ledger"]) for doc in docs}
    assert len(ledgers) == len(docs)
    assert generate(1)["accounts"] != generate(2)["accounts"]


def test_every_feature_appears_across_the_seeds(docs: list[dict[str, Any]]) -> None:
    seeds_with: Counter[str] = Counter()
    for doc in docs:
        seeds_with.update(set(features(doc)))
    for feature in ("cycle", "merge", "exit", "own deposit after victim money", "below 10000"):
        assert seeds_with[feature] >= 5, (feature, seeds_with)
    assert seeds_with["future"] == 0


def test_most_mule_transfers_are_above_the_minimum_amount(docs: list[dict[str, Any]]) -> None:
    amounts = [
        e["amount"]
        for doc in docs
        for e in doc["ledger"]
        if e["from"] is not None and e["from"] not in victim_accounts(doc)
    ]
    assert sum(a > 10_000 for a in amounts) > 0.7 * len(amounts)
    assert any(a < 10_000 for a in amounts)


def test_own_money_switch(docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        victims = victim_accounts(doc)
        assert all(a["opening_balance"] > 0 for a in doc["accounts"])
        assert victims
    for seed in range(50):
        doc = generate(seed, own_money=False)
        victims = victim_accounts(doc)
        assert all(a["opening_balance"] == 0 for a in doc["accounts"] if a["id"] not in victims)
        assert all(e["from"] is not None for e in doc["ledger"])


def test_delays_schedule_a_few_forwards_after_the_epoch() -> None:
    for seed in SEEDS:
        doc = generate(seed, delays=True)
        scenario = parse_scenario(doc)
        future = [e for e in scenario.ledger if not e.is_history]
        assert future and len(future) < len(scenario.ledger)
        assert any(e.from_account is not None for e in future)  # a mule moves money later
        assert all(scenario.event(t).is_history for t in victim_payments(doc))


def test_a_generated_network_runs_in_the_simulated_world() -> None:
    for seed in range(20):
        doc = generate(seed, victims=2, delays=True, epoch=NOW.isoformat())
        world = World(parse_scenario(doc), NOW)
        for entry in doc["checks"][0]["entries"]:
            events = [world.scenario.event(t) for t in entry["transfers"]]
            payee = world.scenario.account(events[0].to_account)
            request = StatementRequest(
                idempotency_key=f"s{seed}",
                case_id="c",
                order_id="o",
                level=1,
                account=Account(payee.bank_code, payee.number, payee.holder),
                currency="CNY",
                incoming=tuple(IncomingTransfer(e.txn_id, e.amount, world.time_of(e.at)) for e in events),
            )
            answer = world.statement(request, NOW)
            assert answer.status is AnswerStatus.ACCR, answer.extra
            assert {line.txn_id for line in answer.statement.lines} >= set(entry["transfers"])
        last = world.scenario.ledger[-1]
        moved = world.advance(world.time_of(last.at))
        assert moved  # the scheduled moves happen (nothing is held, so in full)
        assert all(m.amount == m.event.amount for m in moved)
        assert all(world.balance(a.id) >= 0 for a in world.scenario.accounts)


def test_write_stores_the_generated_json(tmp_path: Any) -> None:
    path = write(tmp_path / "net.json", 42, victims=2)
    assert path == tmp_path / "net.json"
    assert json.loads(path.read_text(encoding="utf-8")) == generate(42, victims=2)
    assert load_scenario(path).name == "generated-42"
    assert generate(-3)["name"] == "generated-m3"


@pytest.mark.parametrize(
    "kw",
    [
        {"banks": 0},
        {"victims": 0},
        {"fan_out": (0, 2)},
        {"fan_out": (3, 2)},
        {"depth": (0, 1)},
        {"rule": "newest"},
        {"exit_ratio": 1.5},
        {"max_accounts": 3, "victims": 2},
        {"max_events": 5},
    ],
)
def test_bad_parameters_are_refused(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        generate(1, **kw)


@pytest.mark.parametrize(("fan_out", "levels", "victims"), [(4, 6, 1), (3, 3, 2), (1, 4, 1), (2, 1, 5)])
def test_a_tree_has_one_account_per_order_and_its_known_answer_is_the_replay(
    fan_out: int, levels: int, victims: int
) -> None:
    doc = tree(fan_out=fan_out, levels=levels, victims=victims, kept=20_000)
    scenario = parse_scenario(doc)
    check = scenario.checks[0]
    per_case = sum(fan_out**level for level in range(levels))
    assert len(check.entries) == victims
    assert len(check.expect_held) == victims * per_case  # every mule account holds: one order each
    assert set(check.expect_held.values()) == {20_000}
    assert (check.max_depth, check.min_amount) == (levels, 10_000)
    assert len(scenario.accounts) == victims * (1 + per_case)
    assert all(event.at < 0 for event in scenario.ledger)
    answer = replay(scenario, check)  # the whole-ledger oracle agrees with the known answer
    assert (answer.held, answer.exited) == (dict(check.expect_held), 0)
    if (fan_out, levels) == (4, 6):
        assert per_case == 1 + 4 + 16 + 64 + 256 + 1024 == 1365


def test_a_tree_is_the_same_for_the_same_arguments_and_is_served_by_the_simulated_world() -> None:
    assert tree(seed=3) == tree(seed=3)
    assert tree(seed=3)["accounts"] != tree(seed=4)["accounts"]
    assert len({a["id"].split(":")[0] for a in tree(banks=4)["accounts"]}) == 4
    assert {b["latency_ms"] for b in tree(banks=2, latency_ms=40)["banks"]} == {40}
    scenario = parse_scenario(tree(fan_out=2, levels=2))
    level1 = scenario.ledger[0].to_account
    assert level1 is not None
    assert World(scenario, NOW).balance(level1) == 20_000  # kept 20,000 and forwarded 2 x 20,000


@pytest.mark.parametrize("kw", [{"fan_out": 0}, {"levels": 0}, {"victims": 0}, {"kept": 0}, {"rule": "newest"}])
def test_bad_tree_parameters_are_refused(kw: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        tree(**kw)

"""Money a mule pays back to an account the victim paid from (a fake "profit withdrawal") is back
with the victim: no order goes to the victim's own account, nothing is frozen there, and the case
counts it as its own figure, so reported = held + exited + back with the victim + unresolved."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from bank_adapters.simulated.generator import generate
from bank_adapters.simulated.scenario import parse_scenario
from stopay.cli.picture import to_svg
from stopay.cli.render import case_text
from stopay.domain.accounts import AccountKey
from stopay.domain.entry import Party
from stopay.domain.trail import Known, Limits, Line, step
from stopay.v1 import audit_pb2, audit_pb2_grpc, station_pb2
from tests.entries import scenario_requests
from tests.handmade import acct, check, world_data
from tests.replay import replay

RULES = ["fifo", "lifo", "pro_rata", "libr", "taint_first"]

# V pays the level-1 mule A 100,000 fen; A pays 30,000 back to V ("profit"), 50,000 on to B and
# 5,000 (under min_amount) back again: every fen of it is the victim's under every rule.
MOVES = [("V", "A", 100000, "T1"), ("A", "V", 30000, "P1"), ("A", "B", 50000, "T2"), ("A", "V", 5000, "P2")]


def data(rule: str) -> dict:
    return world_data(
        {"V": 200000, "A": 0, "B": 0},
        MOVES,
        [check("profit", rule, [["T1"]], {"A": 15000, "B": 50000}, exited=0, min_amount=10000)],
    )


@pytest.mark.parametrize("rule", RULES)
def test_the_oracle_counts_money_paid_back_to_the_victim_apart(rule: str) -> None:
    scenario = parse_scenario(data(rule))
    answer = replay(scenario, scenario.checks[0])
    assert answer.held == {acct("A"): 15000, acct("B"): 50000}
    assert (answer.exited, answer.back_with_victim) == (0, 35000)


def test_the_trail_step_ends_at_the_victim_s_account() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    victim, mule = Party("BK", "ACCOUNTV", "v"), Party("BK", "ACCOUNTB", "b")
    lines = (
        Line(1, at, "credit", 100000, "T1", victim),
        Line(2, at, "debit", 30000, "P1", victim),
        Line(3, at, "debit", 50000, "T2", mule),
    )
    known = Known(labelled={"T1": (("L1", 100000),)})
    result = step(known, 0, lines, Limits("libr", 5, 10000), frozenset({AccountKey("BK", "ACCOUNTV")}))
    assert [o.account for o in result.onward] == [mule]
    assert [(x.txn_id, x.kind, x.amount_minor) for x in result.exits] == [("P1", "BACK_WITH_VICTIM", 30000)]
    assert result.left_minor == 20000


@pytest.mark.parametrize("rule", RULES)
async def test_no_order_and_no_freeze_on_the_victim_s_own_account(
    make_app, channel_to, tmp_path: Path, rule: str
) -> None:
    path = tmp_path / "profit.json"
    path.write_text(json.dumps(data(rule)), encoding="utf-8")
    app = await make_app(path, limits=Limits(rule, 5, 10000))
    stub = channel_to(app)
    (request,) = scenario_requests(app, path, 0)
    reply = await stub.SubmitEntry(request)
    case = None
    async for update in stub.WatchCase(station_pb2.WatchCaseRequest(case_id=reply.case_id), timeout=60):
        case = update.case
    assert case is not None and case.settled

    assert acct("V").split(":")[1] not in {o.account.number for o in case.orders}
    banks = app.adapters[next(iter(app.adapters))].world
    assert banks.holds() == {acct("A"): 15000, acct("B"): 50000}
    assert (case.held_minor, case.exited_minor, case.back_with_victim_minor) == (65000, 0, 35000)
    assert case.reported_minor == (
        case.held_minor + case.exited_minor + case.back_with_victim_minor + case.returned_minor + case.unresolved_minor
    )
    assert case.unresolved_minor == 0 and list(case.exits) == []
    assert [(t.level, t.back_with_victim_minor) for t in case.levels] == [(1, 35000), (2, 0)]
    assert "back with victim ¥350.00" in case_text(case)
    assert "back with victim" in to_svg(case)

    since, until = Timestamp(), Timestamp()
    since.FromDatetime(datetime.now(UTC) - timedelta(hours=1))
    until.FromDatetime(datetime.now(UTC) + timedelta(hours=1))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        report = await audit_pb2_grpc.AuditServiceStub(channel).GetReport(
            audit_pb2.ReportRequest(since=since, until=until)
        )
    assert (report.held_minor, report.exited_minor, report.back_with_victim_minor) == (65000, 0, 35000)


def test_the_generator_makes_profit_withdrawals_only_when_asked() -> None:
    def paid_back(doc: dict) -> int:
        victims = {
            t["from"]
            for t in doc["ledger"]
            if t["txn_id"] in {x for e in doc["checks"][0]["entries"] for x in e["transfers"]}
        }
        return sum(1 for t in doc["ledger"] if t.get("to") in victims)

    assert sum(paid_back(generate(seed)) for seed in range(50)) == 0
    assert "profit_ratio" not in generate(7)["x-generator"]  # the networks of earlier versions
    assert sum(paid_back(generate(seed, profit_ratio=0.3)) > 0 for seed in range(50)) >= 10

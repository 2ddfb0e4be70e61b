"""Following the money end to end: entries go in through gRPC, the service traces the trail level by
level through the simulated banks, and the holds equal the known answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bank_adapters.simulated.scenario import load_scenario
from stopay.api.convert import ATTRIBUTION_RULE
from stopay.domain.trail import Limits
from stopay.v1 import common_pb2, station_pb2
from tests.conftest import EXAMPLES, PUBLIC_SCENARIOS, eventually
from tests.entries import scenario_requests
from tests.handmade import acct, check, world_data
from tests.replay import replay


def scenario_checks() -> list[Any]:
    found = []
    for folder in (PUBLIC_SCENARIOS, EXAMPLES):
        for path in sorted(folder.glob("*.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != "stopay-bank-network/1":
                continue
            for index, item in enumerate(data.get("checks", [])):
                found.append(pytest.param(path, index, id=f"{folder.name}/{path.stem}/{item['name']}"))
    return found


async def run_check(make_app, channel_to, path: Path, index: int) -> tuple[dict[str, int], int, Any]:
    """Submits the check's entries in order, each once the previous has settled; returns the holds per
    account summed over the cases, the exited total, and the app."""
    scenario = load_scenario(path)
    c = scenario.checks[index]
    app = await make_app(path, limits=Limits(c.rule, c.max_depth, c.min_amount))
    stub = channel_to(app)
    held: dict[str, int] = {}
    exited = 0
    for request in scenario_requests(app, path, index):
        reply = await stub.SubmitEntry(request)
        case = None
        async for update in stub.WatchCase(station_pb2.WatchCaseRequest(case_id=reply.case_id), timeout=60):
            case = update.case
        assert case is not None and case.settled
        assert (case.rule, case.max_depth, case.min_amount_minor) == (
            ATTRIBUTION_RULE.number(c.rule),
            c.max_depth,
            c.min_amount,
        )
        for order in case.orders:
            key = f"{order.account.bank_code}:{order.account.number}"
            held[key] = held.get(key, 0) + order.held_minor - order.released_minor
        exited += case.exited_minor
        assert case.exited_minor == sum(x.amount_minor for x in case.exits)
    return {k: v for k, v in held.items() if v}, exited, app


def test_the_public_scenarios_are_found() -> None:
    assert len(scenario_checks()) >= 8


@pytest.mark.parametrize(("path", "index"), scenario_checks())
async def test_every_known_answer_end_to_end(make_app, channel_to, path: Path, index: int) -> None:
    expected = load_scenario(path).checks[index]
    held, exited, app = await run_check(make_app, channel_to, path, index)
    assert held == dict(expected.expect_held)
    if expected.expect_exited is not None:
        assert exited == expected.expect_exited
    banks = app.adapters[next(iter(app.adapters))].world
    assert banks.holds() == dict(expected.expect_held)  # the banks hold exactly that, no more


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / f"{data['name']}-{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


async def agrees_with_replay(make_app, channel_to, tmp_path: Path, data: dict[str, Any], index: int = 0):
    """Runs a check through the service; asserts it equals both the hand-worked and the replayed answer."""
    path = write(tmp_path, data)
    scenario = load_scenario(path)
    held, exited, _ = await run_check(make_app, channel_to, path, index)
    oracle = replay(scenario, scenario.checks[index])
    assert held == oracle.held == dict(scenario.checks[index].expect_held)
    assert exited == oracle.exited
    if scenario.checks[index].expect_exited is not None:
        assert exited == scenario.checks[index].expect_exited
    return held


async def test_merge_of_two_paths(make_app, channel_to, tmp_path: Path) -> None:
    # V -1000-> A; A -400-> B; A -600-> C; B -300-> D; C -500-> D: both paths count at D.
    moves = [
        ("V", "A", 1000, "T1"),
        ("A", "B", 400, "T2"),
        ("A", "C", 600, "T3"),
        ("B", "D", 300, "T4"),
        ("C", "D", 500, "T5"),
    ]
    data = world_data(
        {"V": 1000, "A": 0, "B": 0, "C": 0, "D": 0},
        moves,
        [check("merge", "fifo", [["T1"]], {"B": 100, "C": 100, "D": 800}, exited=0)],
    )
    assert await agrees_with_replay(make_app, channel_to, tmp_path, data) == {
        acct("B"): 100,
        acct("C"): 100,
        acct("D"): 800,
    }


@pytest.mark.parametrize("rule", ["fifo", "lifo"])
async def test_a_cycle_back_to_an_account_already_visited(make_app, channel_to, tmp_path: Path, rule: str) -> None:
    moves = [("V", "A", 1000, "T1"), ("A", "B", 600, "T2"), ("B", "A", 400, "T3"), ("A", "B", 500, "T4")]
    data = world_data(
        {"V": 1000, "A": 0, "B": 0}, moves, [check("cycle", rule, [["T1"]], {"A": 300, "B": 700}, exited=0)]
    )
    await agrees_with_replay(make_app, channel_to, tmp_path, data)


# One database per depth: the same transfer reported again in one database is linked, not traced.
@pytest.mark.parametrize(("max_depth", "held"), [(3, {}), (4, {"D": 5000})])
async def test_a_chain_deeper_than_max_depth_stops_there(
    make_app, channel_to, tmp_path: Path, max_depth: int, held: dict[str, int]
) -> None:
    # V -> A -> B -> C -> D, each passing everything on; with max_depth 3 the trail stops at C.
    moves = [("V", "A", 5000, "T1"), ("A", "B", 5000, "T2"), ("B", "C", 5000, "T3"), ("C", "D", 5000, "T4")]
    data = world_data(
        {"V": 5000, "A": 0, "B": 0, "C": 0, "D": 0},
        moves,
        [check("deep", "libr", [["T1"]], held, exited=0, max_depth=max_depth)],
    )
    assert await agrees_with_replay(make_app, channel_to, tmp_path, data) == {acct(k): v for k, v in held.items()}


async def test_transfers_under_min_amount_are_not_followed(make_app, channel_to, tmp_path: Path) -> None:
    moves = [("V", "A", 100000, "T1"), ("A", "B", 9999, "T2"), ("A", "C", 10000, "T3")]
    data = world_data(
        {"V": 100000, "A": 0, "B": 0, "C": 0},
        moves,
        [check("min", "libr", [["T1"]], {"A": 80001, "C": 10000}, exited=0, min_amount=10000)],
    )
    await agrees_with_replay(make_app, channel_to, tmp_path, data)


@pytest.mark.parametrize("index", [0, 1])
async def test_own_deposits_after_the_victims_are_not_held(make_app, channel_to, tmp_path: Path, index: int) -> None:
    moves = [("V", "A", 100000, "T1"), ("A", "ATM", 90000, "T2"), (None, "A", 500000, "C1"), ("A", "B", 300000, "T3")]
    data = world_data(
        {"V": 100000, "A": 0, "B": 0},
        moves,
        [
            check("libr", "libr", [["T1"]], {"A": 10000}, exited=90000),
            check("fifo", "fifo", [["T1"]], {"B": 10000}, exited=90000),
        ],
    )
    await agrees_with_replay(make_app, channel_to, tmp_path, data, index)


async def test_two_cases_on_one_account_hold_only_what_is_left(make_app, channel_to, tmp_path: Path) -> None:
    # Two victims pay A; A forwards part. Each case holds its victim's money left at A, but the
    # second can only have what the first did not already hold.
    moves = [("V", "A", 100000, "T1"), ("W", "A", 60000, "T2"), ("A", "CASH", 70000, "T3")]
    data = world_data(
        {"V": 100000, "W": 60000, "A": 0}, moves, [check("two", "fifo", [["T1"], ["T2"]], {"A": 90000}, exited=70000)]
    )
    # fifo: T3 takes V's 70000 first: V has 30000 left at A; W's 60000 is untouched: 30000 + 60000.
    held = await agrees_with_replay(make_app, channel_to, tmp_path, data)
    assert held == {acct("A"): 90000}


async def test_a_move_scheduled_two_seconds_after_the_entry_is_beaten(make_app, channel_to, tmp_path: Path) -> None:
    data = world_data(
        {"V": 100000, "A": 0, "B": 0},
        [("V", "A", 100000, "T1")],
        [check("race", "libr", [["T1"]], {"A": 100000}, exited=0)],
    )
    data["epoch"] = datetime.now(UTC).replace(microsecond=0).isoformat()
    data["banks"][0]["latency_ms"] = 40
    # The mule empties A two seconds after time zero, which is about when the entry arrives.
    data["ledger"].append({"seq": 2, "at": 2, "from": acct("A"), "to": acct("B"), "amount": 100000, "txn_id": "T2"})
    path = write(tmp_path, data)
    held, _, app = await run_check(make_app, channel_to, path, 0)
    assert held == {acct("A"): 100000}
    banks = app.adapters["BK"].world

    async def move_ran() -> bool:  # at its time, two seconds after time zero
        return banks.next_move_at() is None

    await eventually(move_ran)
    assert banks.balance(acct("A")) == 100000 and banks.balance(acct("B")) == 0  # the move found nothing to move


@pytest.mark.parametrize(("min_amount", "at_c"), [(0, 80), (100, 0)])
async def test_money_frozen_on_a_partial_view_is_given_back_when_the_full_view_shows_less(
    make_app, channel_to, tmp_path: Path, min_amount: int, at_c: int
) -> None:
    # libr, max_depth 3. V -1000-> A (L1); A -600-> B (L2); B -600-> A (L3 at A);
    # A -800-> D; A -200-> C. Until B's statement is in, A's view counts B's 600 as own money, spent
    # first: D gets L2 200 and C gets L2 200. With B's answer A knows the 600 is the victim's at
    # level 3: pro rata, D gets L2 320 (and L4 480, past max_depth) and C only L2 80.
    # B's bank is slow, so C is frozen at 200 before that, and 120 must be given back; with a
    # min_amount of 100 the 80 is no longer followed at all, and all 200 go back.
    moves = [
        ("V", "A", 1000, "T1"),
        ("A", "B", 600, "T2"),
        ("B", "A", 600, "T3"),
        ("A", "D", 800, "T4"),
        ("A", "C", 200, "T5"),
    ]
    data = world_data(
        {"V": 1000, "A": 0, "B": 0, "C": 0, "D": 0},
        moves,
        [
            check(
                "partial",
                "libr",
                [["T1"]],
                {"C": at_c, "D": 320} if at_c else {"D": 320},
                exited=0,
                max_depth=3,
                min_amount=min_amount,
            )
        ],
    )
    data["banks"].append({"code": "SLOW", "name": "Slow bank", "latency_ms": 400})
    slow = acct("B").replace("BK:", "SLOW:")
    text = json.dumps(data).replace(acct("B"), slow)
    data = json.loads(text)
    path = write(tmp_path, data)
    scenario = load_scenario(path)
    held, exited, app = await run_check(make_app, channel_to, path, 0)
    expected = {acct("C"): at_c, acct("D"): 320} if at_c else {acct("D"): 320}
    assert held == replay(scenario, scenario.checks[0]).held == expected
    stub = channel_to(app)
    (case,) = (await stub.ListCases(station_pb2.ListCasesRequest())).cases
    case = await stub.GetCase(station_pb2.GetCaseRequest(case_id=case.case_id))
    releases = [o for o in case.orders if o.kind == station_pb2.ORDER_KIND_RELEASE]
    assert [(o.account.number, o.requested_minor, o.released_minor, o.status) for o in releases] == [
        (acct("C").split(":")[1], 200 - at_c, 200 - at_c, station_pb2.ORDER_STATUS_RELEASED)
    ]
    assert app.adapters["BK"].world.holds() == expected


async def test_case_reports_levels_exits_and_unresolved(make_app, channel_to) -> None:
    app = await make_app(EXAMPLES / "seed-xue.json")
    stub = channel_to(app)
    (request,) = scenario_requests(app, EXAMPLES / "seed-xue.json")
    reply = await stub.SubmitEntry(request)
    async for update in stub.WatchCase(station_pb2.WatchCaseRequest(case_id=reply.case_id), timeout=30):
        case = update.case
    levels = [(t.level, t.traced_minor, t.held_minor, t.exited_minor, t.orders, t.open_orders) for t in case.levels]
    assert levels == [
        # Each level: the freeze order (statement, then what is left to freeze) and its stop.
        (1, 58000000, 35000000, 0, 2, 0),
        (2, 23000000, 21000000, 0, 2, 0),
        (3, 2000000, 0, 2000000, 2, 0),
    ]
    (flow,) = case.exits
    assert (flow.txn_id, flow.kind, flow.amount_minor, flow.level, flow.account.bank_code) == (
        "XUE-T4",
        common_pb2.EXIT_KIND_ATM,
        2000000,
        3,
        "CCB",
    )
    assert case.unresolved_minor == 58000000 - 35000000 - 21000000 - 2000000 == 0
    tree = {o.order_id: o for o in case.orders}
    freezes = [o for o in case.orders if o.kind == station_pb2.ORDER_KIND_FREEZE]
    chain = [o for o in freezes if o.level == 3][0]
    parents = []
    while chain.parent_order_id:
        chain = tree[chain.parent_order_id]
        parents.append(chain.level)
    assert parents == [2, 1]
    # Each stop hangs under its freeze order, at its level, for the same money.
    for stop in (o for o in case.orders if o.kind == station_pb2.ORDER_KIND_STOP):
        twin = tree[stop.parent_order_id]
        assert (twin.kind, twin.level, twin.requested_minor) == (
            station_pb2.ORDER_KIND_FREEZE,
            stop.level,
            stop.asked_minor,
        )
    level2 = [o for o in freezes if o.level == 2][0]
    assert [(i.txn_id, i.amount_minor, i.traced_minor, i.payer.bank_code) for i in level2.incoming] == [
        ("XUE-T2", 23000000, 23000000, "ICBC")
    ]
    # The stop asked for all 230,000 the transfer carried and got the 210,000 there; the freeze
    # order's statement found that money already asked for.
    (stop2,) = [o for o in case.orders if o.kind == station_pb2.ORDER_KIND_STOP and o.level == 2]
    assert (stop2.asked_minor, stop2.held_minor, level2.asked_minor) == (23000000, 21000000, 0)

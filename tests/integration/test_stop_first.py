"""Stop first, inquire after (docs/tracing.md): the freeze of the money an order follows goes out at
once, beside the statement; what the statement shows is not the victim's is given back; and money
one case's stop held for a while is asked again by the case it belongs to. The banks are the
simulated ones; only their statements are held back, case by case, to pin the order of answers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from bank_adapters.protocol import StatementAnswer, StatementRequest
from stopay.domain.trail import Limits
from stopay.v1 import station_pb2
from tests.conftest import eventually
from tests.entries import scenario_requests
from tests.handmade import acct, check, world_data


class HeldStatements:
    """Holds back the statements of the cases not yet let through; everything else goes at once."""

    def __init__(self, adapter: Any) -> None:
        self._statement = adapter.statement
        self._open: set[str] = set()
        self._changed = asyncio.Event()
        self.waiting: set[str] = set()
        adapter.statement = self.statement

    async def statement(self, request: StatementRequest) -> StatementAnswer:
        while request.case_id not in self._open:
            self.waiting.add(request.case_id)
            self._changed.clear()
            await self._changed.wait()
        self.waiting.discard(request.case_id)
        return await self._statement(request)

    def let_through(self, case_id: str) -> None:
        self._open.add(case_id)
        self._changed.set()


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    import json

    path = tmp_path / "world.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


async def case_of(stub: Any, case_id: str) -> station_pb2.Case:
    return await stub.GetCase(station_pb2.GetCaseRequest(case_id=case_id))


def held_at(case: station_pb2.Case, name: str) -> int:
    return sum(o.held_minor - o.released_minor for o in case.orders if o.account.number == acct(name).split(":")[1])


def stop_at(case: station_pb2.Case, name: str) -> station_pb2.Order:
    (order,) = [
        o
        for o in case.orders
        if o.kind == station_pb2.ORDER_KIND_STOP and o.account.number == acct(name).split(":")[1] and o.parent_order_id
    ]
    return order


async def test_the_stop_holds_before_the_statement_is_in_and_the_excess_goes_back_after(
    make_app, channel_to, tmp_path: Path
) -> None:
    # fifo: V pays A 100000, then own money 50000 comes in; A sends 40000 on to B, all of it V's.
    # The stop at A asks for the 100000 reported and gets it; the statement then shows 60000 of V's
    # money left at A, and 40000 is given back, while B's stop holds the 40000 that moved on.
    moves = [("V", "A", 100000, "T1"), ("X", "A", 50000, "T2"), ("A", "B", 40000, "T3")]
    data = world_data(
        {"V": 100000, "X": 50000, "A": 0, "B": 0}, moves, [check("one", "fifo", [["T1"]], {"A": 60000, "B": 40000})]
    )
    path = write(tmp_path, data)
    app = await make_app(path, limits=Limits("fifo", 5, 0))
    held_back = HeldStatements(app.adapters["BK"])
    stub = channel_to(app)
    (request,) = scenario_requests(app, path)
    case_id = (await stub.SubmitEntry(request)).case_id

    async def stopped_before_the_statement() -> bool:
        case = await case_of(stub, case_id)
        stops = [o for o in case.orders if o.kind == station_pb2.ORDER_KIND_STOP]
        return bool(stops) and stops[0].status == station_pb2.ORDER_STATUS_HELD

    await eventually(stopped_before_the_statement)
    case = await case_of(stub, case_id)
    assert case_id in held_back.waiting  # the statement is still out
    assert held_at(case, "A") == 100000
    (inquiry,) = [o for o in case.orders if o.kind == station_pb2.ORDER_KIND_FREEZE]
    assert inquiry.status == station_pb2.ORDER_STATUS_QUEUED
    assert [o.kind for o in case.orders].count(station_pb2.ORDER_KIND_RELEASE) == 0  # nothing judged yet

    held_back.let_through(case_id)

    async def settled() -> bool:
        return (await case_of(stub, case_id)).settled

    await eventually(settled)
    case = await case_of(stub, case_id)
    assert (held_at(case, "A"), held_at(case, "B")) == (60000, 40000)
    (release,) = [o for o in case.orders if o.kind == station_pb2.ORDER_KIND_RELEASE]
    assert (release.status, release.released_minor) == (station_pb2.ORDER_STATUS_RELEASED, 40000)
    assert stop_at(case, "B").held_minor == 40000
    world = app.adapters["BK"].world
    assert world.held(acct("A")) == 60000 and world.held(acct("B")) == 40000


async def test_money_one_cases_stop_held_is_asked_again_by_the_case_it_belongs_to(
    make_app, channel_to, tmp_path: Path
) -> None:
    # DOMAIN.md's worked example under libr: a case for A holds 600 at M, and B's case the 200
    # left. A's stop asks for A's 1000 first and holds all 800 at M, B's among it; B's stop and
    # B's freeze then find nothing free. When A's statement shows 600 of A's money, 200 goes back,
    # and B's case, short of its 500, asks again and holds the 200.
    moves = [
        ("A", "M", 100000, "TA"),
        ("B", "M", 50000, "TB"),
        ("O", "M", 30000, "TO1"),
        ("M", "N1", 80000, "TN1"),
        ("M", "N2", 60000, "TN2"),
        ("O", "M", 20000, "TO2"),
    ]
    opening = {"A": 100000, "B": 50000, "O": 50000, "M": 20000, "N1": 0, "N2": 0}
    data = world_data(opening, moves, [check("two", "libr", [["TA"], ["TB"]], {"M": 80000}, max_depth=1)])
    path = write(tmp_path, data)
    app = await make_app(path, limits=Limits("libr", 1, 0))
    held_back = HeldStatements(app.adapters["BK"])
    stub = channel_to(app)
    first, second = scenario_requests(app, path)
    a = (await stub.SubmitEntry(first)).case_id

    async def a_stopped() -> bool:
        return held_at(await case_of(stub, a), "M") == 80000

    await eventually(a_stopped)
    b = (await stub.SubmitEntry(second)).case_id
    held_back.let_through(b)

    async def b_settled_empty_handed() -> bool:
        return (await case_of(stub, b)).settled

    await eventually(b_settled_empty_handed)
    assert held_at(await case_of(stub, b), "M") == 0

    held_back.let_through(a)

    async def both_held() -> bool:
        case_a, case_b = await case_of(stub, a), await case_of(stub, b)
        return case_a.settled and case_b.settled and held_at(case_b, "M") == 20000

    await eventually(both_held)
    case_a, case_b = await case_of(stub, a), await case_of(stub, b)
    assert (held_at(case_a, "M"), held_at(case_b, "M")) == (60000, 20000)
    (top_up,) = [o for o in case_b.orders if o.kind == station_pb2.ORDER_KIND_STOP and not o.parent_order_id]
    assert (top_up.requested_minor, top_up.held_minor) == (50000, 20000)
    assert app.adapters["BK"].world.held(acct("M")) == 80000

"""StationService over real gRPC on a real PostgreSQL: entries become durable freezes at the banks."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from stopay.api.convert import EVENT_KIND
from stopay.v1 import station_pb2
from tests.conftest import EXAMPLES
from tests.entries import confirm, scenario_requests, simple_request

SEEDS = ["seed-xue", "seed-chen"]


async def settled_case(stub, case_id: str) -> station_pb2.Case:
    last = None
    async for update in stub.WatchCase(station_pb2.WatchCaseRequest(case_id=case_id), timeout=20):
        last = update.case
    assert last is not None and last.settled
    return last


def held_by_account(case: station_pb2.Case) -> dict[str, int]:
    held: dict[str, int] = {}
    for order in case.orders:
        key = f"{order.account.bank_code}:{order.account.number}"
        held[key] = held.get(key, 0) + order.held_minor - order.released_minor
    return held


@pytest.mark.parametrize("name", SEEDS)
async def test_seed_entry_holds_the_known_answer(make_app, channel_to, name: str) -> None:
    from bank_adapters.simulated.scenario import load_scenario

    path = EXAMPLES / f"{name}.json"
    app = await make_app(path)
    stub = channel_to(app)
    scenario = load_scenario(path)
    expected = dict(scenario.checks[0].expect_held)
    (request,) = scenario_requests(app, path)
    reply = await stub.SubmitEntry(request)
    assert not reply.duplicate
    case = await settled_case(stub, reply.case_id)
    held = {account: amount for account, amount in held_by_account(case).items() if amount}
    assert held == expected
    level1 = {f"{t.payee.bank_code}:{t.payee.number}" for t in request.transfers}
    assert {f"{o.account.bank_code}:{o.account.number}" for o in case.orders if o.level == 1} == level1
    assert case.reported_minor == sum(t.amount_minor for t in request.transfers)
    assert case.held_minor == sum(expected.values())
    assert case.exited_minor == (scenario.checks[0].expect_exited or 0)
    assert case.unresolved_minor == case.reported_minor - case.held_minor - case.exited_minor
    # The simulated banks agree: they hold exactly that, no more.
    world = app.adapters[scenario.banks[0].code].world
    assert world.holds() == expected


async def test_chen_three_transfers_make_one_order_naming_all_three(make_app, channel_to) -> None:
    app = await make_app(EXAMPLES / "seed-chen.json")
    stub = channel_to(app)
    (request,) = scenario_requests(app, EXAMPLES / "seed-chen.json")
    case = await settled_case(stub, (await stub.SubmitEntry(request)).case_id)
    # One freeze order (the statement) and its stop (the freeze, at once), both naming all three.
    (order,) = [o for o in case.orders if o.kind == station_pb2.ORDER_KIND_FREEZE]
    (stop,) = [o for o in case.orders if o.kind == station_pb2.ORDER_KIND_STOP]
    assert len(case.orders) == 2 and stop.parent_order_id == order.order_id
    assert list(order.incoming_txn_ids) == list(stop.incoming_txn_ids) == ["CHEN-T1", "CHEN-T2", "CHEN-T3"]
    assert stop.status == station_pb2.ORDER_STATUS_HELD
    assert stop.requested_minor == stop.held_minor == 11000000
    # The statement shows all of it still there, and the stop freezes it: nothing more to ask.
    assert (order.status, order.held_minor) == (station_pb2.ORDER_STATUS_MOVED_ON, 0)
    assert order.requested_minor == 11000000


async def test_retried_submit_returns_the_same_case_and_writes_nothing_new(make_app, channel_to, pool) -> None:
    app = await make_app(EXAMPLES / "seed-chen.json")
    stub = channel_to(app)
    (request,) = scenario_requests(app, EXAMPLES / "seed-chen.json")
    first = await stub.SubmitEntry(request)
    second = await stub.SubmitEntry(request)
    assert (second.case_id, second.duplicate) == (first.case_id, True)
    await settled_case(stub, first.case_id)
    third = await stub.SubmitEntry(request)
    assert (third.case_id, third.duplicate) == (first.case_id, True)
    assert await pool.fetchval("SELECT count(*) FROM cases") == 1
    assert await pool.fetchval("SELECT count(*) FROM freeze_orders") == 2  # the freeze order and its stop
    assert await pool.fetchval("SELECT count(*) FROM bank_answers") == 2  # one statement, the stop's freeze


async def test_reused_entry_id_with_other_content_fails_precondition(make_app, channel_to, pool) -> None:
    app = await make_app()
    stub = channel_to(app)
    request = simple_request(("ICBC", "6222020200009999999", 100000))
    await stub.SubmitEntry(request)
    request.transfers[0].amount_minor = 200000
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.SubmitEntry(confirm(request))
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert request.entry_id in error.value.details()
    assert await pool.fetchval("SELECT requested_minor FROM freeze_orders") == 100000
    assert await pool.fetchval("SELECT count(*) FROM cases") == 1


def _spoil_bank_code(r):
    r.transfers[0].payee.bank_code = "icbc"


def _spoil_number(r):
    r.transfers[0].payee.number = "62-22"


def _spoil_zero(r):
    r.transfers[0].amount_minor = 0


def _spoil_negative(r):
    r.transfers[0].amount_minor = -5


def _spoil_huge(r):
    r.transfers[0].amount_minor = 10**15


def _spoil_no_transfers(r):
    del r.transfers[:]


def _spoil_payer_code(r):
    r.transfers[0].payer.bank_code = "1CBC"


@pytest.mark.parametrize(
    ("spoil", "field"),
    [
        (_spoil_bank_code, "transfers[0].payee.bank_code"),
        (_spoil_payer_code, "transfers[0].payer.bank_code"),
        (_spoil_number, "transfers[0].payee.number"),
        (_spoil_zero, "transfers[0].amount_minor"),
        (_spoil_negative, "transfers[0].amount_minor"),
        (_spoil_huge, "transfers[0].amount_minor"),
        (_spoil_no_transfers, "transfers"),
    ],
)
async def test_bad_input_is_refused_naming_the_field_and_writes_nothing(
    make_app, channel_to, pool, spoil, field
) -> None:
    app = await make_app()
    stub = channel_to(app)
    request = simple_request(("ICBC", "6222020200009999999", 100000))
    spoil(request)
    confirm(request)  # the victim confirmed the entry as spoiled: only the spoiled field is wrong
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.SubmitEntry(request)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(error.value)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    assert [v.field for v in bad.field_violations] == [field]
    assert field in error.value.details()
    for table in ("cases", "entry_transfers", "freeze_orders", "case_events"):
        assert await pool.fetchval(f"SELECT count(*) FROM {table}") == 0, table


async def test_bank_without_adapter_is_undeliverable_and_the_others_proceed(make_app, channel_to) -> None:
    app = await make_app(EXAMPLES / "seed-chen.json")
    stub = channel_to(app)
    (request,) = scenario_requests(app, EXAMPLES / "seed-chen.json")
    extra = request.transfers.add()
    extra.CopyFrom(request.transfers[0])
    extra.payee.bank_code, extra.payee.number, extra.txn_id = "ZZB", "6200000000000042", "CHEN-X"
    reply = await stub.SubmitEntry(confirm(request))
    case = await settled_case(stub, reply.case_id)
    by_bank = {(o.account.bank_code, o.kind): o for o in case.orders}
    assert len(by_bank) == len(case.orders) == 4  # a freeze order and its stop at each bank
    for kind in (station_pb2.ORDER_KIND_FREEZE, station_pb2.ORDER_KIND_STOP):
        assert by_bank["ZZB", kind].status == station_pb2.ORDER_STATUS_UNDELIVERABLE
        assert by_bank["ZZB", kind].reason_code == "NOAD"
        assert "ZZB" in by_bank["ZZB", kind].detail
    assert by_bank["BOC", station_pb2.ORDER_KIND_STOP].status == station_pb2.ORDER_STATUS_HELD
    assert by_bank["BOC", station_pb2.ORDER_KIND_FREEZE].status == station_pb2.ORDER_STATUS_MOVED_ON
    assert case.held_minor == 11000000


async def test_watch_streams_each_step_until_settled(make_app, channel_to) -> None:
    app = await make_app(EXAMPLES / "seed-xue.json")
    stub = channel_to(app)
    (request,) = scenario_requests(app, EXAMPLES / "seed-xue.json")
    reply = await stub.SubmitEntry(request)
    updates = [u async for u in stub.WatchCase(station_pb2.WatchCaseRequest(case_id=reply.case_id), timeout=20)]
    kinds = [EVENT_KIND.name(e.kind) for u in updates for e in u.events]
    # The level-1 freeze order and its stop are queued with the entry; then the statement and the
    # stop's answer come back, in either order.
    assert kinds[:3] == ["case.accepted", "order.queued", "order.queued"]
    assert kinds.count("order.traced") == 3 and kinds.count("order.queued") == 4  # a stop per level
    assert kinds.count("order.followed") == 2 and kinds.count("exit.recorded") == 1
    order_kind = {o.order_id: o.kind for o in updates[-1].case.orders}
    of_kind = [(EVENT_KIND.name(e.kind), order_kind.get(e.order_id)) for u in updates for e in u.events]
    # The stops hold at levels 1 and 2; every statement finds its stop asking for the money there,
    # and the level-3 stop finds it gone (an ATM).
    assert of_kind.count(("order.partially_held", station_pb2.ORDER_KIND_STOP)) == 2
    assert of_kind.count(("order.moved_on", station_pb2.ORDER_KIND_FREEZE)) == 3
    assert of_kind.count(("order.moved_on", station_pb2.ORDER_KIND_STOP)) == 1
    assert kinds.count("order.partially_held") == 2 and kinds.count("order.moved_on") == 4
    seqs = [e.seq for u in updates for e in u.events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert updates[-1].case.settled and not any(u.case.settled for u in updates[:-1])
    assert updates[-1].case.held_minor == 35000000 + 21000000


async def test_get_case_errors(make_app, channel_to) -> None:
    stub = channel_to(await make_app())
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.GetCase(station_pb2.GetCaseRequest(case_id="not-a-case"))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "case_id" in error.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.GetCase(station_pb2.GetCaseRequest(case_id="00000000-0000-0000-0000-000000000001"))
    assert error.value.code() == grpc.StatusCode.NOT_FOUND


async def test_list_cases_pages_newest_first_by_station(make_app, channel_to) -> None:
    stub = channel_to(await make_app())
    ids = []
    for n in range(5):
        request = simple_request(("ICBC", f"62220202000099{n:05d}", 1000 + n))
        request.station_id = "S-A" if n != 2 else "S-B"
        ids.append((await stub.SubmitEntry(request)).case_id)
    seen, token = [], ""
    while True:
        page = await stub.ListCases(station_pb2.ListCasesRequest(station_id="S-A", page_size=2, page_token=token))
        assert len(page.cases) <= 2
        seen += [c.case_id for c in page.cases]
        token = page.next_page_token
        if not token:
            break
    assert seen == [ids[4], ids[3], ids[1], ids[0]]
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.ListCases(station_pb2.ListCasesRequest(page_token="garbage!"))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT

"""Banks that answer late, twice, out of order or not at all; a database connection that drops:
nothing accepted is lost, nothing is applied twice, no state moves backwards."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import timedelta
from functools import partial

import asyncpg
import grpc
import pytest

from bank_adapters.protocol import AnswerStatus, BankUnavailable, FreezeAnswer
from bank_adapters.simulated.adapter import create as simulated
from stopay.dispatch.dispatcher import DispatchSettings
from stopay.v1 import gateway_pb2, gateway_pb2_grpc, operator_pb2, operator_pb2_grpc, station_pb2
from tests.conftest import EXAMPLES, claim_rounds_pass, eventually, move_clock
from tests.entries import simple_request
from tests.fakebank import FakeBank

FAST = dict(poll_s=0.1, retry_base_s=0.05, retry_cap_s=0.3, pending_recheck_s=60.0)


async def case_of(stub, case_id: str) -> station_pb2.Case:
    return await stub.GetCase(station_pb2.GetCaseRequest(case_id=case_id))


async def settled(stub, case_id: str) -> bool:
    return (await case_of(stub, case_id)).settled


def order_of(case: station_pb2.Case, kind: int) -> station_pb2.FreezeOrder:
    """The case's one order of ``kind``: its freeze order (the statement), or the stop beside it."""
    (order,) = [o for o in case.orders if o.kind == kind]
    return order


def stop_of(case: station_pb2.Case) -> station_pb2.FreezeOrder:
    return order_of(case, station_pb2.ORDER_KIND_STOP)


def inquiry_of(case: station_pb2.Case) -> station_pb2.FreezeOrder:
    return order_of(case, station_pb2.ORDER_KIND_FREEZE)


async def pending_order(make_app, channel_to):
    bank = FakeBank({"CBK"})
    bank.on_freeze = lambda r: FreezeAnswer(AnswerStatus.PDCR)
    app = await make_app(bank_adapters={"CBK": bank}, dispatch=DispatchSettings(**FAST))
    stub = channel_to(app)
    reply = await stub.SubmitEntry(simple_request(("CBK", "6222020200004444", 90000)))

    # The freeze that goes out is the stop's; its freeze order's statement finds the money asked for.
    async def is_pending() -> bool:
        return stop_of(await case_of(stub, reply.case_id)).status == station_pb2.ORDER_STATUS_PENDING

    await eventually(is_pending)
    order = stop_of(await case_of(stub, reply.case_id))
    key = next(r.idempotency_key for r in bank.requests if type(r).__name__ == "FreezeRequest")
    assert key == f"{reply.case_id}:{inquiry_of(await case_of(stub, reply.case_id)).order_id}/stop"
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")
    return stub, reply.case_id, order, key, gateway_pb2_grpc.BankGatewayStub(channel), channel


async def test_a_callback_settles_a_pending_order_once_and_nothing_moves_it_back(make_app, channel_to, pool) -> None:
    stub, case_id, order, key, gateway, channel = await pending_order(make_app, channel_to)
    try:
        held = gateway_pb2.FreezeOutcome(
            idempotency_key=key, bank_code="CBK", status=gateway_pb2.ANSWER_STATUS_ACCR, held_minor=order.asked_minor
        )
        ack = await gateway.ReportFreezeOutcome(held)
        assert (ack.applied, ack.order_status) == (True, station_pb2.ORDER_STATUS_HELD)
        # The same callback again, a late "pending", and a contradicting rejection: acknowledged, no change.
        for late in (
            held,
            gateway_pb2.FreezeOutcome(idempotency_key=key, bank_code="CBK", status=gateway_pb2.ANSWER_STATUS_PDCR),
            gateway_pb2.FreezeOutcome(
                idempotency_key=key, bank_code="CBK", status=gateway_pb2.ANSWER_STATUS_RJCR, reason_code="LEGL"
            ),
        ):
            ack = await gateway.ReportFreezeOutcome(late)
            assert (ack.applied, ack.order_status) == (False, station_pb2.ORDER_STATUS_HELD)
        case = await case_of(stub, case_id)
        assert case.settled and case.held_minor == 90000
        assert (stop_of(case).status, stop_of(case).held_minor) == (station_pb2.ORDER_STATUS_HELD, 90000)
        assert inquiry_of(case).status == station_pb2.ORDER_STATUS_MOVED_ON
        account = await pool.fetchrow("SELECT held_minor, in_flight_minor FROM trail_accounts")
        assert (account["held_minor"], account["in_flight_minor"]) == (90000, 0)
        assert await pool.fetchval("SELECT count(*) FROM case_events WHERE kind = 'order.held'") == 1
    finally:
        await channel.close()


async def test_callbacks_that_do_not_fit_are_refused(make_app, channel_to) -> None:
    stub, case_id, order, key, gateway, channel = await pending_order(make_app, channel_to)
    try:
        cases = [
            (
                gateway_pb2.FreezeOutcome(
                    idempotency_key=key, bank_code="OTHER", status=gateway_pb2.ANSWER_STATUS_ACCR, held_minor=1
                ),
                grpc.StatusCode.PERMISSION_DENIED,
            ),
            (
                gateway_pb2.FreezeOutcome(
                    idempotency_key=f"{case_id}:00000000-0000-0000-0000-000000000000",
                    bank_code="CBK",
                    status=gateway_pb2.ANSWER_STATUS_ACCR,
                ),
                grpc.StatusCode.NOT_FOUND,
            ),
            (
                gateway_pb2.FreezeOutcome(
                    idempotency_key="nonsense", bank_code="CBK", status=gateway_pb2.ANSWER_STATUS_ACCR
                ),
                grpc.StatusCode.INVALID_ARGUMENT,
            ),
            (
                gateway_pb2.FreezeOutcome(idempotency_key=key, bank_code="CBK", status=42),
                grpc.StatusCode.INVALID_ARGUMENT,
            ),
            (
                gateway_pb2.FreezeOutcome(
                    idempotency_key=key,
                    bank_code="CBK",
                    status=gateway_pb2.ANSWER_STATUS_ACCR,
                    held_minor=order.asked_minor + 1,
                ),
                grpc.StatusCode.INVALID_ARGUMENT,
            ),
        ]
        for message, code in cases:
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await gateway.ReportFreezeOutcome(message)
            assert error.value.code() == code, message
        assert stop_of(await case_of(stub, case_id)).status == station_pb2.ORDER_STATUS_PENDING
    finally:
        await channel.close()


async def test_a_hold_whose_answer_was_lost_is_not_applied_twice(make_app, channel_to) -> None:
    banks = simulated({"network": EXAMPLES / "seed-chen.json"})
    lost = []
    real_freeze = banks.freeze

    async def freeze_then_lose_the_answer(request):
        answer = await real_freeze(request)  # the bank holds...
        if not lost:
            lost.append(request.idempotency_key)
            raise BankUnavailable("connection reset after the bank applied the hold")  # ...but the answer is lost
        return answer

    banks.freeze = freeze_then_lose_the_answer  # type: ignore[method-assign]
    app = await make_app(bank_adapters={code: banks for code in banks.bank_codes}, dispatch=DispatchSettings(**FAST))
    stub = channel_to(app)
    (request,) = scenario_requests_from(banks, EXAMPLES / "seed-chen.json")
    reply = await stub.SubmitEntry(request)
    await eventually(lambda: settled(stub, reply.case_id))
    case = await case_of(stub, reply.case_id)
    assert len(case.orders) == 2
    # The stop's freeze is the one whose answer was lost; asked again under its key, it holds.
    order = stop_of(case)
    assert (order.status, order.held_minor) == (station_pb2.ORDER_STATUS_HELD, 11000000)
    assert lost == [f"{reply.case_id}:{inquiry_of(case).order_id}/stop"]
    assert inquiry_of(case).status == station_pb2.ORDER_STATUS_MOVED_ON
    assert banks.world.held("BOC:6216610000000002") == 11000000  # held once, not twice


def scenario_requests_from(banks, path):
    from google.protobuf import json_format

    from bank_adapters.simulated.scenario import load_scenario
    from stopay.cli.scenario_entries import check_entries

    scenario = load_scenario(path)
    return [
        json_format.ParseDict(d, station_pb2.SubmitEntryRequest())
        for d in check_entries(scenario, scenario.checks[0], banks.world.epoch)
    ]


async def test_an_order_past_its_deadline_fails_and_an_operator_retries_it(make_app, channel_to, pool) -> None:
    bank = FakeBank({"DOWN"})
    down = True

    def statement(request):
        if down:
            raise BankUnavailable("bank is down")
        return FakeBank.plain_statement(request)

    bank.on_statement = statement
    app = await make_app(
        bank_adapters={"DOWN": bank}, dispatch=DispatchSettings(**FAST, delivery_deadline_s=600, breaker_threshold=1000)
    )
    stub = channel_to(app)
    reply = await stub.SubmitEntry(simple_request(("DOWN", "6222020200005555", 70000)))
    await eventually(lambda: _attempts(stub, reply.case_id, 2))
    assert not (await case_of(stub, reply.case_id)).settled  # retried while its deadline lasts
    await move_clock(pool, timedelta(seconds=601))  # past it, by the database clock
    await eventually(lambda: settled(stub, reply.case_id))
    case = await case_of(stub, reply.case_id)
    failed = inquiry_of(case)
    assert (failed.status, failed.reason_code) == (station_pb2.ORDER_STATUS_UNDELIVERABLE, "NOAS")
    assert "deadline" in failed.detail and failed.attempts > 1
    # Its stop, sent beside it, had held the money at once.
    assert (stop_of(case).status, stop_of(case).held_minor) == (station_pb2.ORDER_STATUS_HELD, 70000)

    down = False
    result = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "stopay.cli.main",
            "order",
            "retry",
            failed.order_id,
            "--operator",
            "duty-officer-7",
            "--server",
            f"127.0.0.1:{app.port}",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    retried = json.loads(result.stdout)
    assert retried["case_id"] == reply.case_id
    await eventually(lambda: settled(stub, reply.case_id))
    case = await case_of(stub, reply.case_id)
    by_id = {o.order_id: o for o in case.orders}
    assert by_id[failed.order_id].status == station_pb2.ORDER_STATUS_UNDELIVERABLE  # never moved back
    # The retry's statement is in: the money there is the victim's, and the stop holds it already.
    assert (by_id[retried["order_id"]].status, case.held_minor) == (station_pb2.ORDER_STATUS_MOVED_ON, 70000)
    keys = {r.idempotency_key for r in bank.requests if type(r).__name__ == "StatementRequest"}
    assert keys == {f"{reply.case_id}:{failed.order_id}/statement"}  # the retry kept the failed order's key
    keys = {r.idempotency_key for r in bank.requests if type(r).__name__ == "FreezeRequest"}
    assert keys == {f"{reply.case_id}:{failed.order_id}/stop"}  # the stop's freeze, once

    operator = operator_pb2_grpc.OperatorServiceStub(grpc.aio.insecure_channel(f"127.0.0.1:{app.port}"))
    with pytest.raises(grpc.aio.AioRpcError) as error:  # a settled order is nothing to retry
        await operator.RetryOrder(operator_pb2.RetryOrderRequest(order_id=retried["order_id"], operator_id="x"))
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_a_failing_bank_trips_its_breaker_and_the_others_flow(make_app, channel_to) -> None:
    bad, good = FakeBank({"BAD"}), FakeBank({"GOOD"})

    def down(request):
        raise BankUnavailable("down")

    bad.on_statement = down
    app = await make_app(
        bank_adapters={"BAD": bad, "GOOD": good},
        dispatch=DispatchSettings(**FAST, breaker_threshold=3, breaker_open_s=30.0),
    )
    stub = channel_to(app)
    stuck = await stub.SubmitEntry(simple_request(("BAD", "6222020200006666", 1000)))

    # The stop's freeze goes out at once and is answered (the bank only fails statements), which
    # resets the breaker's count: it trips at the third statement failed after it.
    async def tripped() -> bool:
        kinds = [type(r).__name__ for r in bad.requests]
        return "FreezeRequest" in kinds and kinds[kinds.index("FreezeRequest") :].count("StatementRequest") >= 3

    await eventually(tripped)
    assert stop_of(await case_of(stub, stuck.case_id)).status == station_pb2.ORDER_STATUS_HELD
    calls = len(bad.requests)
    replies = [await stub.SubmitEntry(simple_request(("GOOD", f"62220202000077{n:02d}", 1000 + n))) for n in range(20)]
    for reply in replies:
        await eventually(partial(settled, stub, reply.case_id), timeout_s=5)
    await claim_rounds_pass(app)
    assert len(bad.requests) == calls  # the open breaker kept the bad bank's order untouched
    assert inquiry_of(await case_of(stub, stuck.case_id)).status == station_pb2.ORDER_STATUS_QUEUED


async def _attempts(stub, case_id: str, at_least: int) -> bool:
    """The case's freeze order has asked for its statement ``at_least`` times."""
    return inquiry_of(await case_of(stub, case_id)).attempts >= at_least


async def test_dropped_database_connections_lose_nothing_and_half_apply_nothing(make_app, channel_to, dsn) -> None:
    bank = FakeBank({"ICBC"})
    app = await make_app(bank_adapters={"ICBC": bank}, dispatch=DispatchSettings(**FAST))
    stub = channel_to(app)
    admin = await asyncpg.connect(dsn)
    stop = asyncio.Event()
    killed = 0

    async def kill_connections() -> None:
        nonlocal killed
        while not stop.is_set():
            killed += await admin.fetchval(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            await asyncio.sleep(0.05)

    killer = asyncio.create_task(kill_connections())
    requests = [simple_request(("ICBC", f"62220202000088{n:02d}", 5000 + n)) for n in range(30)]
    case_ids = []
    try:
        for request in requests:
            while True:  # a station client retries with the same entry_id until it gets an answer
                try:
                    case_ids.append((await stub.SubmitEntry(request, timeout=5)).case_id)
                    break
                except grpc.aio.AioRpcError as exc:
                    assert exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED), exc
                    await asyncio.sleep(0.05)

        # Connections keep dropping while the dispatcher goes for the orders, round after round.
        submitted = killed
        await claim_rounds_pass(app, 5)

        async def cut_again() -> bool:
            return killed >= submitted + 3

        await eventually(cut_again)
    finally:
        stop.set()
        await killer
    assert killed > 0
    for case_id in case_ids:
        await eventually(partial(settled, stub, case_id), timeout_s=30)
    # Each case: a freeze order, whose statement finds the money asked for, and its stop, which holds it.
    total = await admin.fetchrow(
        "SELECT count(*) AS cases, (SELECT count(*) FROM freeze_orders) AS orders,"
        " (SELECT count(*) FROM freeze_orders WHERE kind = 'freeze' AND status = 'moved_on') AS moved_on,"
        " (SELECT count(*) FROM freeze_orders WHERE kind = 'stop' AND status = 'held') AS held,"
        " (SELECT sum(held_minor) FROM freeze_orders) AS held_minor FROM cases"
    )
    assert dict(total) == {
        "cases": 30,
        "orders": 60,
        "moved_on": 30,
        "held": 30,
        "held_minor": sum(5000 + n for n in range(30)),
    }
    await admin.close()

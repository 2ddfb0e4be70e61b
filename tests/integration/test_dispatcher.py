"""The dispatcher against scripted banks: a bank's nonsense or a pending answer delays only its own
orders, and nothing is lost."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from bank_adapters.protocol import AnswerStatus, FreezeAnswer
from stopay.api.convert import EVENT_KIND
from stopay.v1 import station_pb2
from tests.conftest import eventually, move_clock
from tests.entries import simple_request
from tests.fakebank import FakeBank

FREEZE, STOP = station_pb2.ORDER_KIND_FREEZE, station_pb2.ORDER_KIND_STOP


async def case_of(stub, case_id: str) -> station_pb2.Case:
    return await stub.GetCase(station_pb2.GetCaseRequest(case_id=case_id))


def by_bank_and_kind(case: station_pb2.Case) -> dict[tuple[str, int], station_pb2.FreezeOrder]:
    """The case's orders by bank and kind: one freeze order and one stop per account here."""
    orders: dict[tuple[str, int], station_pb2.FreezeOrder] = {}
    for o in case.orders:
        assert (o.account.bank_code, o.kind) not in orders
        orders[o.account.bank_code, o.kind] = o
    return orders


async def test_an_answer_that_cannot_be_applied_is_asked_again_and_the_others_go_on(make_app, channel_to) -> None:
    good, bad = FakeBank({"GOOD"}), FakeBank({"BAD"})
    # An overdrawn statement: its opening balance is negative, which no rule can replay.
    bad.on_statement = lambda r: FakeBank.plain_statement(r, opening=-1)
    app = await make_app(bank_adapters={"GOOD": good, "BAD": bad})
    stub = channel_to(app)
    reply = await stub.SubmitEntry(
        simple_request(("GOOD", "6222020200001111", 50000), ("BAD", "6222020200002222", 70000))
    )

    # Each account has its freeze order (the statement) and its stop (the freeze, sent beside it).
    async def good_held_and_bad_retried() -> bool:
        orders = by_bank_and_kind(await case_of(stub, reply.case_id))
        return (
            orders["GOOD", FREEZE].status == station_pb2.ORDER_STATUS_MOVED_ON  # the stop freezes it
            and orders["GOOD", STOP].status == station_pb2.ORDER_STATUS_HELD
            and orders["BAD", FREEZE].attempts >= 3
        )

    await eventually(good_held_and_bad_retried)
    orders = by_bank_and_kind(await case_of(stub, reply.case_id))
    bad_order = orders["BAD", FREEZE]
    assert bad_order.status == station_pb2.ORDER_STATUS_QUEUED
    assert "could not be applied" in bad_order.detail
    # The statement that cannot be applied holds up nothing else: not even the stop at its account.
    assert (orders["BAD", STOP].status, orders["BAD", STOP].held_minor) == (station_pb2.ORDER_STATUS_HELD, 70000)
    assert orders["GOOD", STOP].held_minor == 50000
    # Once the bank makes sense again, the order goes through.
    bad.on_statement = FakeBank.plain_statement
    await eventually(lambda: _settled(stub, reply.case_id))
    assert (await case_of(stub, reply.case_id)).held_minor == 120000


async def test_a_pending_answer_is_asked_again_with_the_same_key_until_final(make_app, channel_to) -> None:
    bank = FakeBank({"SLOW"})
    answers = iter([FreezeAnswer(AnswerStatus.PDCR), FreezeAnswer(AnswerStatus.PDCR)])
    bank.on_freeze = lambda r: next(answers, FreezeAnswer(AnswerStatus.ACCR, held_minor=r.amount_minor))
    app = await make_app(bank_adapters={"SLOW": bank})
    stub = channel_to(app)
    reply = await stub.SubmitEntry(simple_request(("SLOW", "6222020200003333", 80000)))
    await eventually(lambda: _settled(stub, reply.case_id))
    orders = by_bank_and_kind(await case_of(stub, reply.case_id))
    # The stop is the freeze that goes out (its freeze order, finding the money asked for, sends none).
    stop = orders["SLOW", STOP]
    assert (stop.status, stop.held_minor) == (station_pb2.ORDER_STATUS_HELD, 80000)
    assert orders["SLOW", FREEZE].status == station_pb2.ORDER_STATUS_MOVED_ON
    freezes = [r for r in bank.requests if type(r).__name__ == "FreezeRequest"]
    assert len(freezes) == 3 and {f.idempotency_key for f in freezes} == {
        f"{reply.case_id}:{orders['SLOW', FREEZE].order_id}/stop"
    }
    events = [
        (EVENT_KIND.name(e.kind), e.order_id)
        async for u in stub.WatchCase(station_pb2.WatchCaseRequest(case_id=reply.case_id))
        for e in u.events
    ]
    assert [k for k, _ in events].count("order.pending") == 2  # the stop's, and no other
    stop_kinds = [k for k, o in events if o == stop.order_id]
    assert stop_kinds.count("order.pending") == 2 and stop_kinds[-1] == "order.held"


async def _settled(stub, case_id: str) -> bool:
    return (await case_of(stub, case_id)).settled


async def test_a_request_the_bank_refuses_is_not_sent_again(make_app, channel_to) -> None:
    from bank_adapters.protocol import BankRefused

    bank = FakeBank({"STRICT"})

    def refuse(request):
        raise BankRefused("INVALID_ARGUMENT: account number format")

    # The bank refuses every request about the account: the statement, and the stop's freeze.
    bank.on_statement = refuse
    bank.on_freeze = refuse
    app = await make_app(bank_adapters={"STRICT": bank})
    stub = channel_to(app)
    reply = await stub.SubmitEntry(simple_request(("STRICT", "6222020200009991", 1000)))
    await eventually(lambda: _settled(stub, reply.case_id))
    orders = by_bank_and_kind(await case_of(stub, reply.case_id))
    assert set(orders) == {("STRICT", FREEZE), ("STRICT", STOP)}
    for order in orders.values():
        assert (order.status, order.reason_code, order.attempts) == (station_pb2.ORDER_STATUS_UNDELIVERABLE, "RFSD", 1)
        assert "account number format" in order.detail
    # Each was sent once: the freeze order's statement and its stop's freeze.
    assert sorted(type(r).__name__ for r in bank.requests) == ["FreezeRequest", "StatementRequest"]


async def test_a_small_in_flight_limit_never_stalls_the_claims(make_app, channel_to) -> None:
    from stopay.dispatch.dispatcher import DispatchSettings

    bank = FakeBank({"ONE"})
    app = await make_app(
        bank_adapters={"ONE": bank},
        dispatch=DispatchSettings(poll_s=5.0, max_in_flight=2, batch_size=2, retry_base_s=0.05, retry_cap_s=0.3),
    )
    stub = channel_to(app)
    replies = [await stub.SubmitEntry(simple_request(("ONE", f"62220202000099{n:02d}", 100 + n))) for n in range(12)]
    for reply in replies:
        await eventually(partial(_settled, stub, reply.case_id), timeout_s=20)


async def test_a_freeze_that_may_have_been_applied_is_never_given_up(make_app, channel_to, pool) -> None:
    from bank_adapters.protocol import BankUnavailable
    from stopay.dispatch.dispatcher import DispatchSettings

    bank = FakeBank({"FLAKY"})
    down = True
    # Two freezes go out and time out: at `stopped`, the stop's; at `frozen`, the freeze order's
    # (the bank refused the stop, NOOR: the transfer was not booked yet when it came; the statement,
    # once the transfer is booked, shows the victim's money there, and the freeze order asks for it).
    stopped, frozen = "6222020200008881", "6222020200008882"
    booked = False

    def freeze(request):
        if request.account.number == frozen and request.idempotency_key.endswith("/stop"):
            return FreezeAnswer(AnswerStatus.RJCR, reason_code="NOOR")
        if down:
            raise BankUnavailable("timed out after sending")  # the bank may or may not have held it
        return FreezeAnswer(AnswerStatus.ACCR, held_minor=request.amount_minor)

    def statement(request):
        if request.account.number == frozen and not booked:
            raise BankUnavailable("statement not ready")
        return FakeBank.plain_statement(request)

    bank.on_freeze, bank.on_statement = freeze, statement
    app = await make_app(
        bank_adapters={"FLAKY": bank},
        dispatch=DispatchSettings(
            poll_s=0.1, retry_base_s=0.05, retry_cap_s=0.2, delivery_deadline_s=600, breaker_threshold=1000
        ),
    )
    stub = channel_to(app)
    reply = await stub.SubmitEntry(simple_request(("FLAKY", stopped, 4000), ("FLAKY", frozen, 3000)))

    async def orders() -> dict[tuple[str, int], station_pb2.FreezeOrder]:
        return {(o.account.number, o.kind): o for o in (await case_of(stub, reply.case_id)).orders}

    async def stop_refused() -> bool:
        return (await orders())[frozen, STOP].status == station_pb2.ORDER_STATUS_REJECTED

    await eventually(stop_refused)
    booked = True

    async def both_out() -> bool:
        now = await orders()
        return now[stopped, STOP].attempts >= 1 and now[frozen, FREEZE].status == station_pb2.ORDER_STATUS_FREEZING

    await eventually(both_out)
    before = await orders()
    # The stop's freeze order found the money asked for by the stop.
    assert before[stopped, FREEZE].status == station_pb2.ORDER_STATUS_MOVED_ON
    await move_clock(pool, timedelta(seconds=601))  # past the delivery deadline, by the database clock

    async def tried_three_more_times() -> bool:
        now = await orders()
        return all(now[k].attempts >= before[k].attempts + 3 for k in ((stopped, STOP), (frozen, FREEZE)))

    await eventually(tried_three_more_times)
    now = await orders()
    assert now[stopped, STOP].status == station_pb2.ORDER_STATUS_QUEUED  # a stop asks the freeze while queued
    assert now[frozen, FREEZE].status == station_pb2.ORDER_STATUS_FREEZING
    down = False
    await eventually(lambda: _settled(stub, reply.case_id))
    now = await orders()
    assert (now[stopped, STOP].status, now[stopped, STOP].held_minor) == (station_pb2.ORDER_STATUS_HELD, 4000)
    assert (now[frozen, FREEZE].status, now[frozen, FREEZE].held_minor) == (station_pb2.ORDER_STATUS_HELD, 3000)

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


async def case_of(stub, case_id: str) -> station_pb2.Case:
    return await stub.GetCase(station_pb2.GetCaseRequest(case_id=case_id))


async def test_an_answer_that_cannot_be_applied_is_asked_again_and_the_others_go_on(make_app, channel_to) -> None:
    good, bad = FakeBank({"GOOD"}), FakeBank({"BAD"})
    # An overdrawn statement: its opening balance is negative, which no rule can replay.
    bad.on_statement = lambda r: FakeBank.plain_statement(r, opening=-1)
    app = await make_app(bank_adapters={"GOOD": good, "BAD": bad})
    stub = channel_to(app)
    reply = await stub.SubmitEntry(
        simple_request(("GOOD", "6222020200001111", 50000), ("BAD", "6222020200002222", 70000))
    )

    async def good_held_and_bad_retried() -> bool:
        case = await case_of(stub, reply.case_id)
        by_bank = {o.account.bank_code: o for o in case.orders}
        return by_bank["GOOD"].status == station_pb2.ORDER_STATUS_HELD and by_bank["BAD"].attempts >= 3

    await eventually(good_held_and_bad_retried)
    bad_order = next(o for o in (await case_of(stub, reply.case_id)).orders if o.account.bank_code == "BAD")
    assert bad_order.status == station_pb2.ORDER_STATUS_QUEUED
    assert "could not be applied" in bad_order.detail
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
    (order,) = (await case_of(stub, reply.case_id)).orders
    assert (order.status, order.held_minor) == (station_pb2.ORDER_STATUS_HELD, 80000)
    freezes = [r for r in bank.requests if type(r).__name__ == "FreezeRequest"]
    assert len(freezes) == 3 and len({f.idempotency_key for f in freezes}) == 1
    kinds = [
        EVENT_KIND.name(e.kind)
        async for u in stub.WatchCase(station_pb2.WatchCaseRequest(case_id=reply.case_id))
        for e in u.events
    ]
    assert kinds.count("order.pending") == 2 and kinds[-1] == "order.held"


async def _settled(stub, case_id: str) -> bool:
    return (await case_of(stub, case_id)).settled


async def test_a_request_the_bank_refuses_is_not_sent_again(make_app, channel_to) -> None:
    from bank_adapters.protocol import BankRefused

    bank = FakeBank({"STRICT"})

    def refuse(request):
        raise BankRefused("INVALID_ARGUMENT: account number format")

    bank.on_statement = refuse
    app = await make_app(bank_adapters={"STRICT": bank})
    stub = channel_to(app)
    reply = await stub.SubmitEntry(simple_request(("STRICT", "6222020200009991", 1000)))
    await eventually(lambda: _settled(stub, reply.case_id))
    (order,) = (await case_of(stub, reply.case_id)).orders
    assert (order.status, order.reason_code, order.attempts) == (station_pb2.ORDER_STATUS_UNDELIVERABLE, "RFSD", 1)
    assert "account number format" in order.detail and len(bank.requests) == 1


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

    def freeze(request):
        if down:
            raise BankUnavailable("timed out after sending")  # the bank may or may not have held it
        return FreezeAnswer(AnswerStatus.ACCR, held_minor=request.amount_minor)

    bank.on_freeze = freeze
    app = await make_app(
        bank_adapters={"FLAKY": bank},
        dispatch=DispatchSettings(
            poll_s=0.1, retry_base_s=0.05, retry_cap_s=0.2, delivery_deadline_s=600, breaker_threshold=1000
        ),
    )
    stub = channel_to(app)
    reply = await stub.SubmitEntry(simple_request(("FLAKY", "6222020200008881", 4000)))

    async def freezing() -> bool:
        return any(o.status == station_pb2.ORDER_STATUS_FREEZING for o in (await case_of(stub, reply.case_id)).orders)

    await eventually(freezing)
    (order,) = (await case_of(stub, reply.case_id)).orders
    await move_clock(pool, timedelta(seconds=601))  # past the delivery deadline, by the database clock

    async def tried_three_more_times() -> bool:
        return (await case_of(stub, reply.case_id)).orders[0].attempts >= order.attempts + 3

    await eventually(tried_three_more_times)
    (order,) = (await case_of(stub, reply.case_id)).orders
    assert order.status == station_pb2.ORDER_STATUS_FREEZING
    down = False
    await eventually(lambda: _settled(stub, reply.case_id))
    (order,) = (await case_of(stub, reply.case_id)).orders
    assert (order.status, order.held_minor) == (station_pb2.ORDER_STATUS_HELD, 4000)

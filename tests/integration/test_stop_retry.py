"""An operator's retry of a stop stopay could not deliver asks only for what its account is still
short of: by then its freeze order's statement may have frozen the money itself. The bank is
scripted (tests/fakebank.py); stopay runs for real on PostgreSQL and gRPC."""

from __future__ import annotations

import grpc

from bank_adapters.protocol import AnswerStatus, BankRefused, BankUnavailable, FreezeAnswer, FreezeRequest
from stopay.dispatch.dispatcher import DispatchSettings
from stopay.v1 import operator_pb2, operator_pb2_grpc, station_pb2
from tests.conftest import eventually
from tests.entries import simple_request
from tests.fakebank import FakeBank

FAST = dict(poll_s=0.1, retry_base_s=0.05, retry_cap_s=0.3, pending_recheck_s=60.0)
ACCOUNT = "6222020200007777"


async def case_of(stub, case_id: str) -> station_pb2.Case:
    return await stub.GetCase(station_pb2.GetCaseRequest(case_id=case_id))


def one(case: station_pb2.Case, kind: int) -> station_pb2.FreezeOrder:
    (order,) = [o for o in case.orders if o.kind == kind and (kind != station_pb2.ORDER_KIND_STOP or o.parent_order_id)]
    return order


async def test_a_retried_stop_asks_again_for_money_its_freeze_order_froze_since(make_app, channel_to) -> None:
    # The stop is refused by the bank's gateway (undeliverable, RFSD) before the statement is in;
    # its amount leaves in-flight, so the statement sizes the freeze order's freeze to the whole
    # 70000, which is held. An operator then retries the stop: retry_plan puts its 70000 back in
    # flight and the bank is asked to freeze another 70000 under the stop's key, though the case
    # holds all the victim's money there already. The bank holds the holder's (or another
    # victim's) money until the answer is judged and the excess given back.
    bank = FakeBank({"RBK"})
    state = {"stop_down": True, "statement_down": True}
    accepted: list[FreezeRequest] = []

    def freeze(request: FreezeRequest) -> FreezeAnswer:
        if request.idempotency_key.endswith("/stop") and state["stop_down"]:
            raise BankRefused("gateway failed on it")
        accepted.append(request)
        return FreezeAnswer(AnswerStatus.ACCR, held_minor=request.amount_minor)

    def statement(request):
        if state["statement_down"]:
            raise BankUnavailable("slow")
        return FakeBank.plain_statement(request)

    bank.on_freeze = freeze
    bank.on_statement = statement
    app = await make_app(bank_adapters={"RBK": bank}, dispatch=DispatchSettings(**FAST, breaker_threshold=1000))
    stub = channel_to(app)
    case_id = (await stub.SubmitEntry(simple_request(("RBK", ACCOUNT, 70000)))).case_id

    async def stop_failed() -> bool:
        return one(await case_of(stub, case_id), station_pb2.ORDER_KIND_STOP).status == (
            station_pb2.ORDER_STATUS_UNDELIVERABLE
        )

    await eventually(stop_failed)
    state["statement_down"] = False

    async def settled() -> bool:
        return (await case_of(stub, case_id)).settled

    await eventually(settled)
    case = await case_of(stub, case_id)
    assert one(case, station_pb2.ORDER_KIND_FREEZE).held_minor == 70000  # the freeze order froze it all
    failed = one(case, station_pb2.ORDER_KIND_STOP)

    state["stop_down"] = False
    operator = operator_pb2_grpc.OperatorServiceStub(grpc.aio.insecure_channel(f"127.0.0.1:{app.port}"))
    try:
        await operator.RetryOrder(operator_pb2.RetryOrderRequest(order_id=failed.order_id, operator_id="duty-7"))
    except grpc.aio.AioRpcError as error:  # refusing the retry would be a right answer too
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    await eventually(settled)
    # What should hold: the bank is never asked to freeze more than the victim's 70000 there.
    assert sum(r.amount_minor for r in accepted) == 70000, [(r.idempotency_key, r.amount_minor) for r in accepted]

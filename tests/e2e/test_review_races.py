"""Review of large freezes under pressure, on PostgreSQL with real servers: a supervisor deciding
while the trail is still being followed, two supervisors deciding at once, a request id sent again
with the other decision, two replicas applying one case's answers, and an operator's retry of a
stop that could not be delivered. Whatever happens, the money the case's trail rows hold and have
in flight agrees with its orders, nothing is left waiting, and the hash chain verifies."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid

import grpc
import pytest

from bank_adapters.protocol import AnswerStatus, BankRefused, BankUnavailable
from bank_adapters.simulated.generator import tree
from bank_adapters.simulated.scenario import parse_scenario
from stopay.dispatch.dispatcher import DispatchSettings
from stopay.domain.holds import HoldPolicy
from stopay.domain.review import Thresholds
from stopay.domain.trail import Limits
from stopay.store import audit
from stopay.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc, holds_pb2, operator_pb2, operator_pb2_grpc, station_pb2
from tests.conftest import eventually
from tests.e2e.test_review import FROZEN_ACCOUNTS, decide, network, settled, submit, waiting_for_review
from tests.entries import scenario_requests

APPROVE, DECLINE = holds_pb2.REVIEW_DECISION_APPROVE, holds_pb2.REVIEW_DECISION_DECLINE

# Per account of the case: the money its trail row holds and has in flight or going out, and what
# its orders say it holds.
MONEY = """
SELECT t.bank_code, t.account_number, t.held_minor, t.in_flight_minor, t.releasing_minor,
       coalesce((SELECT sum(o.held_minor - o.released_minor) FROM freeze_orders o
                 WHERE o.case_id = t.case_id AND o.bank_code = t.bank_code
                   AND o.account_number = t.account_number), 0)::bigint AS orders_held
FROM trail_accounts t WHERE t.case_id = $1
"""


async def review_asked(holds, case_id: str) -> None:
    """Returns the moment the case's review is asked for (the trail is still being followed)."""

    async def asked() -> bool:
        listed = await holds.ListReviews(holds_pb2.ListReviewsRequest(case_id=case_id))
        return bool(listed.reviews)

    await eventually(asked, timeout_s=60, every_s=0.01)


async def consistent(pool, case_id: str) -> None:
    """Once the case has settled: nothing in flight or waiting, every row holds what its orders
    held, no order waits and the review awaits nothing; the chain verifies."""
    case = uuid.UUID(case_id)
    for row in await pool.fetch(MONEY, case):
        assert row["in_flight_minor"] == 0 and row["releasing_minor"] == 0, dict(row)
        assert row["held_minor"] == row["orders_held"], dict(row)
    waiting = await pool.fetchval(
        "SELECT count(*) FROM freeze_orders WHERE case_id = $1 AND status = 'awaiting_review'", case
    )
    assert waiting == 0
    state = await pool.fetchval("SELECT state FROM case_reviews WHERE case_id = $1", case)
    assert state in (None, "approved", "declined")
    report = await audit.verify(pool)
    assert report.ok, report.breaks


def bank_holds(case: station_pb2.Case) -> dict[str, int]:
    held: dict[str, int] = {}
    for o in case.orders:
        key = f"{o.account.bank_code}:{o.account.number}"
        held[key] = held.get(key, 0) + o.held_minor - o.released_minor
    return {k: v for k, v in held.items() if v}


@pytest.mark.parametrize("decision", [APPROVE, DECLINE], ids=["approve", "decline"])
async def test_a_decision_taken_the_moment_the_review_is_asked_for_settles_the_case_right(
    make_app, channel_to, holds_to, pool, tmp_path, decision
) -> None:
    path, _ = network(tmp_path, fan_out=3, levels=4)  # 40 accounts; reviewed past 6
    app, stub, case_id, check = await submit(
        make_app, channel_to, path, holds=HoldPolicy(review=Thresholds(max_accounts=6))
    )
    world = app.adapters[next(iter(app.adapters))].world
    holds = holds_to(app)
    await review_asked(holds, case_id)
    decided = await holds.DecideReview(decide(case_id, decision))
    assert decided.state in (holds_pb2.REVIEW_STATE_APPROVED, holds_pb2.REVIEW_STATE_DECLINED)

    case = await settled(stub, case_id)
    assert case.awaiting_review_orders == 0
    assert world.holds() == bank_holds(case)  # the bank holds what the orders say
    if decision == APPROVE:
        assert world.holds() == dict(check.expect_held)
    else:
        assert await pool.fetchval(FROZEN_ACCOUNTS, uuid.UUID(case_id)) <= 6
    await consistent(pool, case_id)


async def test_two_supervisors_deciding_at_once_one_decision_stands(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    path, _ = network(tmp_path, fan_out=3, levels=4)
    app, stub, case_id, _ = await submit(
        make_app, channel_to, path, holds=HoldPolicy(review=Thresholds(max_accounts=6))
    )
    holds = holds_to(app)
    await review_asked(holds, case_id)
    same = uuid.uuid4().hex
    answers = await asyncio.gather(
        holds.DecideReview(decide(case_id, APPROVE, request_id=same)),
        holds.DecideReview(decide(case_id, APPROVE, request_id=same)),
        holds.DecideReview(decide(case_id, DECLINE)),
        holds.DecideReview(decide(case_id, DECLINE)),
        return_exceptions=True,
    )
    refused = [a for a in answers if isinstance(a, BaseException)]
    for error in refused:
        assert isinstance(error, grpc.aio.AioRpcError), error
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, error.details()
        assert "already" in error.details()
    taken = [a for a in answers if not isinstance(a, BaseException)]
    assert len({a.state for a in taken}) == 1  # one decision stands
    assert len([a for a in taken if not a.replayed]) == 1
    if taken[0].state == holds_pb2.REVIEW_STATE_APPROVED:
        assert len(taken) == 2 and len(refused) == 2  # the same request id twice: one replayed
    else:
        assert len(taken) == 1 and len(refused) == 3
    await settled(stub, case_id)
    kinds = [r["kind"] for r in await pool.fetch("SELECT kind FROM case_events WHERE case_id = $1", uuid.UUID(case_id))]
    assert kinds.count("review.approved") + kinds.count("review.declined") == 1
    await consistent(pool, case_id)


async def test_a_request_id_sent_again_with_the_other_decision_or_case_is_refused(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    path = tmp_path / "two-victims.json"
    path.write_text(json.dumps(tree(fan_out=3, levels=3, victims=2, seed=7), ensure_ascii=False), encoding="utf-8")
    check = parse_scenario(json.loads(path.read_text(encoding="utf-8"))).checks[0]
    app = await make_app(
        path,
        limits=Limits(check.rule, check.max_depth, check.min_amount),
        holds=HoldPolicy(review=Thresholds(max_accounts=5)),
    )
    stub, holds = channel_to(app), holds_to(app)
    case_id, other = [(await stub.SubmitEntry(r)).case_id for r in scenario_requests(app, path)]
    await review_asked(holds, case_id)
    await review_asked(holds, other)
    request_id = uuid.uuid4().hex
    approved = await holds.DecideReview(decide(case_id, APPROVE, request_id=request_id))
    assert approved.state == holds_pb2.REVIEW_STATE_APPROVED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await holds.DecideReview(decide(case_id, DECLINE, request_id=request_id))
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS, err.value.details()
    assert request_id in err.value.details()
    # Nor may it decide another case's review: the first decision stands, the other is not taken.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await holds.DecideReview(decide(other, DECLINE, request_id=request_id))
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS, err.value.details()
    (review,) = (await holds.ListReviews(holds_pb2.ListReviewsRequest(case_id=other))).reviews
    assert review.state == holds_pb2.REVIEW_STATE_AWAITING
    await holds.DecideReview(decide(other, APPROVE))
    for case in (case_id, other):
        await settled(stub, case)
        await consistent(pool, case)


async def test_two_replicas_applying_one_case_never_freeze_past_the_threshold(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    path, _ = network(tmp_path, fan_out=4, levels=4)  # 85 accounts; reviewed past 10
    policy = HoldPolicy(review=Thresholds(max_accounts=10))
    first, stub, case_id, check = await submit(make_app, channel_to, path, holds=policy)
    await make_app(
        bank_adapters=dict(first.adapters), holds=policy, limits=Limits(check.rule, check.max_depth, check.min_amount)
    )
    world = first.adapters[next(iter(first.adapters))].world
    holds = holds_to(first)
    await review_asked(holds, case_id)

    async def quiet() -> bool:
        case = await stub.GetCase(station_pb2.GetCaseRequest(case_id=case_id))
        bank_side = {
            station_pb2.ORDER_STATUS_QUEUED,
            station_pb2.ORDER_STATUS_FREEZING,
            station_pb2.ORDER_STATUS_PENDING,
        }
        return not any(o.status in bank_side for o in case.orders)

    await eventually(quiet, timeout_s=120)
    assert await pool.fetchval(FROZEN_ACCOUNTS, uuid.UUID(case_id)) <= 10
    assert len(world.holds()) <= 10
    await holds.DecideReview(decide(case_id, APPROVE))
    case = await settled(stub, case_id)
    assert world.holds() == dict(check.expect_held) == bank_holds(case)
    await consistent(pool, case_id)


async def _stuck_stop(make_app, channel_to, holds_to, tmp_path):
    """A case whose first level-2 stop could not be delivered (the bank's gateway failed on it) and
    whose account's statement is slow, while the rest of the trail passes the review's threshold."""
    path, _ = network(tmp_path, fan_out=3, levels=3)
    policy = HoldPolicy(review=Thresholds(max_accounts=5))
    check = parse_scenario(json.loads(path.read_text(encoding="utf-8"))).checks[0]
    app = await make_app(
        path,
        holds=policy,
        limits=Limits(check.rule, check.max_depth, check.min_amount),
        dispatch=DispatchSettings(
            poll_s=0.1, retry_base_s=0.05, retry_cap_s=0.3, pending_recheck_s=0.2, breaker_threshold=1000
        ),
    )
    adapter = app.adapters[next(iter(app.adapters))]
    stuck: dict[str, object] = {"account": None, "slow": True, "asked": []}
    freeze, statement = adapter.freeze, adapter.statement

    async def failing_freeze(req):
        if req.level == 2 and req.idempotency_key.endswith("/stop") and stuck["account"] in (None, req.account.number):
            stuck["account"] = req.account.number
            raise BankRefused("the gateway failed on it")
        if req.account.number == stuck["account"]:
            stuck["asked"].append(req)  # type: ignore[union-attr]
        return await freeze(req)

    async def slow_statement(req):
        if stuck["slow"] and req.account.number == stuck["account"]:
            raise BankUnavailable("slow")
        return await statement(req)

    adapter.freeze, adapter.statement = failing_freeze, slow_statement
    stub = channel_to(app)
    (request,) = scenario_requests(app, path)
    case_id = (await stub.SubmitEntry(request)).case_id
    holds = holds_to(app)
    await review_asked(holds, case_id)

    async def failed_stop() -> station_pb2.FreezeOrder | None:
        case = await stub.GetCase(station_pb2.GetCaseRequest(case_id=case_id))
        for o in case.orders:
            if o.kind == station_pb2.ORDER_KIND_STOP and o.status == station_pb2.ORDER_STATUS_UNDELIVERABLE:
                return o
        return None

    await eventually(lambda: _some(failed_stop), timeout_s=60)
    failed = await failed_stop()
    assert failed is not None
    return app, stub, holds, case_id, failed, stuck


async def _some(find) -> bool:
    return await find() is not None


@pytest.mark.parametrize("decided_first", [False, True], ids=["awaiting", "declined"])
async def test_an_operator_s_retry_of_a_stop_does_not_go_past_the_review(
    make_app, channel_to, holds_to, pool, tmp_path, decided_first
) -> None:
    app, stub, holds, case_id, failed, stuck = await _stuck_stop(make_app, channel_to, holds_to, tmp_path)
    if decided_first:
        await holds.DecideReview(decide(case_id, DECLINE))
    operator = operator_pb2_grpc.OperatorServiceStub(grpc.aio.insecure_channel(f"127.0.0.1:{app.port}"))
    retried = None
    try:
        retried = await operator.RetryOrder(
            operator_pb2.RetryOrderRequest(order_id=failed.order_id, operator_id="duty-7")
        )
    except grpc.aio.AioRpcError as error:  # refused: the supervisor declined the case's freezes
        assert decided_first and error.code() == grpc.StatusCode.FAILED_PRECONDITION, error.details()
        assert "review" in error.details()
    if retried is not None:
        status = await pool.fetchval(
            "SELECT status FROM freeze_orders WHERE order_id = $1", uuid.UUID(retried.order_id)
        )
        assert status == ("declined" if decided_first else "awaiting_review")
    if not decided_first:
        await holds.DecideReview(decide(case_id, DECLINE))
    stuck["slow"] = False
    await settled(stub, case_id)
    assert stuck["asked"] == []  # the bank was never asked to freeze there again
    await consistent(pool, case_id)


async def test_a_bank_calling_back_for_a_waiting_freeze_changes_nothing(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    path, _ = network(tmp_path, fan_out=3, levels=3)
    app, stub, case_id, _ = await submit(
        make_app, channel_to, path, holds=HoldPolicy(review=Thresholds(max_accounts=5))
    )
    holds = holds_to(app)
    await waiting_for_review(stub, case_id)
    waiting = await pool.fetchrow(
        "SELECT order_id, bank_code, idempotency_key, freeze_minor FROM freeze_orders"
        " WHERE case_id = $1 AND kind = 'stop' AND status = 'awaiting_review' ORDER BY order_id LIMIT 1",
        uuid.UUID(case_id),
    )
    before = await pool.fetch(MONEY, uuid.UUID(case_id))
    gateway = gateway_pb2_grpc.BankGatewayStub(grpc.aio.insecure_channel(f"127.0.0.1:{app.port}"))
    ack = await gateway.ReportFreezeOutcome(
        gateway_pb2.FreezeOutcome(
            idempotency_key=waiting["idempotency_key"],
            bank_code=waiting["bank_code"],
            status=gateway_pb2.ANSWER_STATUS_ACCR,
            held_minor=waiting["freeze_minor"],
        )
    )
    assert not ack.applied and ack.order_status == station_pb2.ORDER_STATUS_AWAITING_REVIEW
    assert await pool.fetchval("SELECT status FROM freeze_orders WHERE order_id = $1", waiting["order_id"]) == (
        "awaiting_review"
    )
    assert await pool.fetch(MONEY, uuid.UUID(case_id)) == before
    await holds.DecideReview(decide(case_id, DECLINE))
    await settled(stub, case_id)
    await consistent(pool, case_id)


async def test_a_bad_decision_names_every_field_and_decides_nothing(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    path, _ = network(tmp_path, fan_out=3, levels=3)
    app, stub, case_id, _ = await submit(
        make_app, channel_to, path, holds=HoldPolicy(review=Thresholds(max_accounts=5))
    )
    holds = holds_to(app)
    await review_asked(holds, case_id)
    bad = holds_pb2.DecideReviewRequest(
        case_id=case_id,
        decision=7,
        by=holds_pb2.StepBy(officer_id="", reason="", request_id="r" * 500),
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await holds.DecideReview(bad)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for field in ("decision", "by.officer_id", "by.reason", "by.request_id"):
        assert field in err.value.details(), err.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await holds.ListReviews(holds_pb2.ListReviewsRequest(case_id="not-a-case"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "case_id" in err.value.details()
    (review,) = (await holds.ListReviews(holds_pb2.ListReviewsRequest(case_id=case_id))).reviews
    assert review.state == holds_pb2.REVIEW_STATE_AWAITING
    assert not [
        r
        for r in await pool.fetch("SELECT kind FROM case_events WHERE case_id = $1", uuid.UUID(case_id))
        if r["kind"].startswith("review.") and r["kind"] != "review.requested"
    ]
    await holds.DecideReview(decide(case_id, APPROVE))
    await settled(stub, case_id)
    await consistent(pool, case_id)


async def test_a_decline_the_moment_a_wide_trail_asks_for_review_is_taken(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    path, _ = network(tmp_path, fan_out=4, levels=5)  # 341 accounts, freezes waiting by the dozen
    app, stub, case_id, _ = await submit(
        make_app, channel_to, path, holds=HoldPolicy(review=Thresholds(max_accounts=8))
    )
    world = app.adapters[next(iter(app.adapters))].world
    holds = holds_to(app)
    await review_asked(holds, case_id)
    decided = await holds.DecideReview(decide(case_id, DECLINE))
    assert decided.state == holds_pb2.REVIEW_STATE_DECLINED
    case = await settled(stub, case_id)
    assert world.holds() == bank_holds(case)
    assert await pool.fetchval(FROZEN_ACCOUNTS, uuid.UUID(case_id)) <= 8
    await consistent(pool, case_id)


async def test_an_approval_sends_no_freeze_to_an_account_whose_hold_was_released_meanwhile(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    # A level-2 stop holds all but 1000 of what the account keeps; its account's statement, slow, then sizes
    # a freeze of the 1000 after the case's review was asked for: it waits. An officer finds the
    # account unrelated and releases its hold; the supervisor then approves the case's freezes.
    path, _ = network(tmp_path, fan_out=3, levels=3)
    check = parse_scenario(json.loads(path.read_text(encoding="utf-8"))).checks[0]
    app = await make_app(
        path,
        holds=HoldPolicy(review=Thresholds(max_accounts=5)),
        limits=Limits(check.rule, check.max_depth, check.min_amount),
    )
    adapter = app.adapters[next(iter(app.adapters))]
    x: dict[str, object] = {"bank": None, "number": None, "slow": True, "released": False, "after": []}
    freeze, statement = adapter.freeze, adapter.statement

    async def short_freeze(req):
        if req.level == 2 and req.idempotency_key.endswith("/stop") and x["number"] in (None, req.account.number):
            x["bank"], x["number"] = req.account.bank_code, req.account.number
            answer = await freeze(dataclasses.replace(req, amount_minor=min(req.amount_minor, 19_000)))
            return dataclasses.replace(answer, status=AnswerStatus.PECR)
        if x["released"] and req.account.number == x["number"]:
            x["after"].append(req)  # type: ignore[union-attr]
        return await freeze(req)

    async def slow_statement(req):
        if req.level == 2 and x["number"] is None:
            x["bank"], x["number"] = req.account.bank_code, req.account.number
        if x["slow"] and req.account.number == x["number"]:
            raise BankUnavailable("slow")
        return await statement(req)

    adapter.freeze, adapter.statement = short_freeze, slow_statement
    stub, holds = channel_to(app), holds_to(app)
    (request,) = scenario_requests(app, path)
    case_id = (await stub.SubmitEntry(request)).case_id
    await review_asked(holds, case_id)
    x["slow"] = False

    async def waits_at_x() -> bool:
        return bool(
            await pool.fetchval(
                "SELECT count(*) FROM freeze_orders WHERE case_id = $1 AND account_number = $2"
                " AND kind = 'freeze' AND status = 'awaiting_review'",
                uuid.UUID(case_id),
                x["number"],
            )
        )

    await eventually(waits_at_x, timeout_s=60)
    hold = holds_pb2.HoldRef(case_id=case_id, account=common_pb2.AccountRef(bank_code=x["bank"], number=x["number"]))
    by = holds_pb2.StepBy(officer_id="O-1001", reason="salary account", request_id=uuid.uuid4().hex)
    released = await holds.ReleaseHold(holds_pb2.ReleaseHoldRequest(hold=hold, by=by))
    assert released.state == holds_pb2.HOLD_STATE_RELEASED
    x["released"] = True
    await holds.DecideReview(decide(case_id, APPROVE))
    await settled(stub, case_id)
    assert x["after"] == []  # nothing more frozen at an account found unrelated
    statuses = await pool.fetch(
        "SELECT status FROM freeze_orders WHERE case_id = $1 AND account_number = $2 AND kind = 'freeze'",
        uuid.UUID(case_id),
        x["number"],
    )
    assert [r["status"] for r in statuses] == ["declined"]
    (approved,) = [
        r["detail"]
        for r in await pool.fetch("SELECT kind, detail FROM case_events WHERE case_id = $1", uuid.UUID(case_id))
        if r["kind"] == "review.approved"
    ]
    assert len(approved["not_sent"]) == 1
    await consistent(pool, case_id)

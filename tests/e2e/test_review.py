"""Review of large freezes, end to end on PostgreSQL: a generated mule tree whose trail crosses 200
accounts stops freezing at the threshold (statements are still asked) until a supervisor approves,
then goes on; a decline releases nothing held and freezes nothing more; the steps are in the case's
hash chain with the supervisor's identity."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import grpc
import pytest

from bank_adapters.simulated.generator import tree
from bank_adapters.simulated.scenario import parse_scenario
from stopay.domain.holds import HoldPolicy
from stopay.domain.review import Thresholds
from stopay.domain.trail import Limits
from stopay.store import audit
from stopay.v1 import holds_pb2, station_pb2
from tests.conftest import eventually
from tests.e2e.test_cli import stopay
from tests.entries import scenario_requests

FROZEN_ACCOUNTS = """
SELECT count(DISTINCT (bank_code, account_number)) FROM freeze_orders
WHERE case_id = $1 AND kind IN ('stop', 'freeze') AND freeze_minor > 0
  AND status NOT IN ('awaiting_review', 'declined')
"""


def network(tmp_path: Path, fan_out: int, levels: int) -> tuple[Path, dict]:
    data = tree(fan_out=fan_out, levels=levels, seed=7)
    path = tmp_path / f"tree-{fan_out}x{levels}.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path, data


async def submit(make_app, channel_to, path: Path, **overrides):
    check = parse_scenario(json.loads(path.read_text(encoding="utf-8"))).checks[0]
    app = await make_app(path, limits=Limits(check.rule, check.max_depth, check.min_amount), **overrides)
    stub = channel_to(app)
    (request,) = scenario_requests(app, path)
    reply = await stub.SubmitEntry(request)
    return app, stub, reply.case_id, check


async def case_of(stub, case_id: str) -> station_pb2.Case:
    return await stub.GetCase(station_pb2.GetCaseRequest(case_id=case_id))


async def waiting_for_review(stub, case_id: str) -> station_pb2.Case:
    """Waits until nothing of the case is with a bank any more and something waits for review."""
    seen: list[station_pb2.Case] = []

    async def stuck() -> bool:
        case = await case_of(stub, case_id)
        seen[:] = [case]
        bank_side = {
            station_pb2.ORDER_STATUS_QUEUED,
            station_pb2.ORDER_STATUS_FREEZING,
            station_pb2.ORDER_STATUS_PENDING,
        }
        return case.awaiting_review_orders > 0 and not any(o.status in bank_side for o in case.orders)

    await eventually(stuck, timeout_s=120)
    return seen[0]


async def settled(stub, case_id: str) -> station_pb2.Case:
    seen: list[station_pb2.Case] = []

    async def done() -> bool:
        case = await case_of(stub, case_id)
        seen[:] = [case]
        return case.settled

    await eventually(done, timeout_s=120)
    return seen[0]


def decide(case_id: str, decision: int, reasons: str = "checked with the prosecutor", request_id: str = ""):
    return holds_pb2.DecideReviewRequest(
        case_id=case_id,
        decision=decision,
        by=holds_pb2.StepBy(officer_id="sup-7", reason=reasons, request_id=request_id or uuid.uuid4().hex),
    )


async def events(pool, case_id: str) -> list[dict]:
    rows = await pool.fetch(
        "SELECT kind, actor, detail FROM case_events WHERE case_id = $1 ORDER BY seq", uuid.UUID(case_id)
    )
    return [dict(r) for r in rows]


async def test_a_trail_past_200_accounts_waits_at_the_threshold_until_approved_then_goes_on(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    path, data = network(tmp_path, fan_out=4, levels=5)  # 1 + 4 + 16 + 64 + 256 = 341 accounts
    app, stub, case_id, check = await submit(make_app, channel_to, path)
    world = app.adapters[next(iter(app.adapters))].world
    case = await waiting_for_review(stub, case_id)

    # Frozen at exactly 200 accounts, the rest waiting; every statement was still asked for.
    assert case.review == holds_pb2.REVIEW_STATE_AWAITING
    assert await pool.fetchval(FROZEN_ACCOUNTS, uuid.UUID(case_id)) == 200
    assert len(world.holds()) <= 200
    statements = [o for o in case.orders if o.kind == station_pb2.ORDER_KIND_FREEZE]
    assert len(statements) == 341
    waiting = [o for o in case.orders if o.status == station_pb2.ORDER_STATUS_AWAITING_REVIEW]
    assert len(waiting) == case.awaiting_review_orders == 141
    assert case.awaiting_review_minor == sum(o.asked_minor or o.requested_minor for o in waiting)
    assert not case.settled  # waiting is not settled

    holds = holds_to(app)
    (listed,) = (await holds.ListReviews(holds_pb2.ListReviewsRequest(awaiting_only=True))).reviews
    assert (listed.case_id, listed.accounts, listed.max_accounts) == (case_id, 200, 200)
    assert listed.waiting_orders == 141 and listed.state == holds_pb2.REVIEW_STATE_AWAITING
    # case show says so, in words
    shown = await stopay("case", "show", case_id, "--server", f"127.0.0.1:{app.port}")
    assert "awaiting review: 141 freeze(s)" in shown.stdout, shown.stdout + shown.stderr

    # A bad decision names its fields and writes nothing.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await holds.DecideReview(holds_pb2.DecideReviewRequest(case_id="nope", by=holds_pb2.StepBy()))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for field in ("case_id", "decision", "by.request_id"):
        assert field in err.value.details()

    request_id = uuid.uuid4().hex
    approved = await holds.DecideReview(decide(case_id, holds_pb2.REVIEW_DECISION_APPROVE, request_id=request_id))
    assert approved.state == holds_pb2.REVIEW_STATE_APPROVED and approved.decided_orders == 141
    assert approved.decided_by == "officer:sup-7"
    again = await holds.DecideReview(decide(case_id, holds_pb2.REVIEW_DECISION_APPROVE, request_id=request_id))
    assert again.replayed and again.state == holds_pb2.REVIEW_STATE_APPROVED
    # Sent again, it answers as the first time did: what the decision sent.
    assert (again.decided_orders, again.decided_minor) == (approved.decided_orders, approved.decided_minor)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await holds.DecideReview(decide(case_id, holds_pb2.REVIEW_DECISION_DECLINE))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "approved already" in err.value.details()

    # Then it goes on: every account holds what it kept, as the network says.
    case = await settled(stub, case_id)
    held = {}
    for o in case.orders:
        key = f"{o.account.bank_code}:{o.account.number}"
        held[key] = held.get(key, 0) + o.held_minor - o.released_minor
    assert {k: v for k, v in held.items() if v} == dict(check.expect_held)
    assert world.holds() == dict(check.expect_held)

    kinds = [e["kind"] for e in await events(pool, case_id)]
    assert kinds.count("review.requested") == 1 and kinds.count("review.approved") == 1
    assert kinds.index("review.requested") < kinds.index("review.approved")
    (decision,) = [e for e in await events(pool, case_id) if e["kind"] == "review.approved"]
    assert decision["actor"] == "officer:sup-7" and decision["detail"]["orders"] == 141
    report = await audit.verify(pool)
    assert report.ok, report.breaks


async def test_a_declined_review_releases_nothing_held_and_freezes_nothing_more(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    path, _ = network(tmp_path, fan_out=3, levels=3)  # 13 accounts; this deployment reviews past 5
    policy = HoldPolicy(review=Thresholds(max_accounts=5))
    app, stub, case_id, _ = await submit(make_app, channel_to, path, holds=policy)
    world = app.adapters[next(iter(app.adapters))].world
    case = await waiting_for_review(stub, case_id)
    assert await pool.fetchval(FROZEN_ACCOUNTS, uuid.UUID(case_id)) == 5
    held_before = world.holds()
    assert 0 < len(held_before) <= 5
    waiting = case.awaiting_review_orders

    out = await stopay(
        "review", "decline", case_id, "--reasons", "not proportionate", "--supervisor", "sup-7",
        "--server", f"127.0.0.1:{app.port}",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert f"{waiting} waiting freeze(s)" in out.stdout and "declined" in out.stdout

    case = await settled(stub, case_id)
    assert case.review == holds_pb2.REVIEW_STATE_DECLINED and case.awaiting_review_orders == 0
    assert world.holds() == held_before  # nothing released, nothing more frozen
    declined = [o for o in case.orders if o.status == station_pb2.ORDER_STATUS_DECLINED]
    assert len(declined) >= waiting
    assert all(o.held_minor == 0 for o in declined)
    # Nothing declined left money in flight at its account.
    assert (
        await pool.fetchval("SELECT sum(in_flight_minor) FROM trail_accounts WHERE case_id = $1", uuid.UUID(case_id))
        == 0
    )
    (decision,) = [e for e in await events(pool, case_id) if e["kind"] == "review.declined"]
    assert decision["actor"] == "officer:sup-7" and decision["detail"]["reasons"] == "not proportionate"
    listed = await stopay("review", "list", "--all", "--json", "--server", f"127.0.0.1:{app.port}")
    (review,) = json.loads(listed.stdout)["reviews"]
    assert review["state"] == "REVIEW_STATE_DECLINED" and review["decided_by"] == "officer:sup-7"
    report = await audit.verify(pool)
    assert report.ok, report.breaks


async def test_a_large_sum_waits_too_and_the_entry_s_own_stops_never_do(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    path, _ = network(tmp_path, fan_out=2, levels=3)
    # The level-1 stop freezes the whole reported sum at once: past the threshold, but it is the
    # entry's own and goes out; every deeper freeze waits.
    policy = HoldPolicy(review=Thresholds(max_amount_minor=10_000))
    app, stub, case_id, _ = await submit(make_app, channel_to, path, holds=policy)
    case = await waiting_for_review(stub, case_id)
    level1 = [o for o in case.orders if o.level == 1 and o.kind == station_pb2.ORDER_KIND_STOP]
    # (partly held: the account passed most of the money on before the report)
    assert level1 and all(o.held_minor > 0 for o in level1)
    deeper = [o for o in case.orders if o.level > 1 and o.kind == station_pb2.ORDER_KIND_STOP]
    assert deeper and all(o.status == station_pb2.ORDER_STATUS_AWAITING_REVIEW for o in deeper)
    (requested,) = [e for e in await events(pool, case_id) if e["kind"] == "review.requested"]
    assert requested["detail"]["max_amount_minor"] == 10_000 and requested["detail"]["level"] == 2
    # An officer may not decide; nor may anyone decide a case with no review.
    holds = holds_to(app)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await holds.DecideReview(decide(str(uuid.uuid4()), holds_pb2.REVIEW_DECISION_APPROVE))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND

"""Four eyes on money leaving: a formal freeze and a return take effect only when a second identity
approves them, end to end through gRPC, the simulated bank and a real PostgreSQL."""

from __future__ import annotations

import uuid

import asyncpg
import grpc
import pytest

from stopay.store import audit
from stopay.v1 import common_pb2, holds_pb2
from tests.conftest import eventually
from tests.e2e.test_holds import (
    M,
    _statuses,
    by,
    document,
    events_of,
    formalized,
    one_victim,
    orders_of,
    ref,
    start,
    the_hold,
)
from tests.handmade import acct
from tests.integration.test_error_details import refusal


def approve(
    approval_id: str, officer: str = "sup-1", request_id: str | None = None, reason: str = "reviewed the file"
) -> holds_pb2.ApproveRequest:
    return holds_pb2.ApproveRequest(
        approval_id=approval_id,
        by=holds_pb2.StepBy(officer_id=officer, reason=reason, request_id=request_id or uuid.uuid4().hex),
    )


async def test_the_officer_who_asked_cannot_approve_and_the_bank_sees_nothing(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    app, (case,) = await start(make_app, channel_to, one_victim(tmp_path))
    holds = holds_to(app)
    world = app.adapters["BK"].world
    request = holds_pb2.FormalizeRequest(
        hold=ref(case), by=by("court order", "ask-1"), document=document("GA-5", 60_000)
    )
    asked = await holds.Formalize(request)
    (pending,) = asked.pending
    assert (asked.state, asked.freezes) == (holds_pb2.HOLD_STATE_STOPPED, 0)
    # Sent again, the same request is the same pending approval; the same id for other content is refused.
    assert [p.approval_id for p in (await holds.Formalize(request)).pending] == [pending.approval_id]
    other = holds_pb2.FormalizeRequest(hold=ref(case), by=by("court order", "ask-1"), document=document("GA-6", 1))
    assert (await refusal(holds.Formalize(other), grpc.StatusCode.ALREADY_EXISTS)).reason == "REQUEST_ID_REUSED"
    assert (pending.action, pending.requested_by, pending.reason, pending.document.number, pending.amount_minor) == (
        holds_pb2.APPROVAL_ACTION_FORMALIZE,
        "officer:O-1001",
        "court order",
        "GA-5",
        60_000,
    )

    info = await refusal(
        holds.Approve(approve(pending.approval_id, officer="O-1001")), grpc.StatusCode.FAILED_PRECONDITION
    )
    assert info.reason == "SAME_APPROVER"
    # Nothing happened: no order to the bank, the bank still holds everything under the emergency stop.
    assert await orders_of(pool, case, "extend") == []
    assert (world.held(acct("M")), world.hold_until(acct("M"))) == (100_000, None)
    hold = await the_hold(holds, case)
    assert (hold.state, [p.approval_id for p in hold.pending]) == (holds_pb2.HOLD_STATE_STOPPED, [pending.approval_id])
    assert await pool.fetchval("SELECT status FROM hold_approvals") == "requested"
    # The database refuses it too, whoever writes.
    with pytest.raises(asyncpg.CheckViolationError, match="hold_approvals"):
        await pool.execute(
            "UPDATE hold_approvals SET status = 'approved', approved_by = requested_by, "
            "approved_reason = 'mine', approve_request_id = request_id, approved_at = now()"
        )


async def test_a_second_officer_s_approval_takes_effect_once_and_the_chain_names_both(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    app, (case,) = await start(make_app, channel_to, one_victim(tmp_path))
    holds = holds_to(app)
    world = app.adapters["BK"].world
    asked = await holds.Formalize(
        holds_pb2.FormalizeRequest(hold=ref(case), by=by("court order"), document=document("GA-5", 60_000))
    )
    approval_id = asked.pending[0].approval_id

    done = await holds.Approve(approve(approval_id, request_id="approve-1"))
    assert (done.action, done.requested_by, done.approved_by, done.replayed) == (
        holds_pb2.APPROVAL_ACTION_FORMALIZE,
        "officer:O-1001",
        "officer:sup-1",
        False,
    )
    assert (done.hold.state, done.hold.freezes, done.hold.document.number, list(done.hold.pending)) == (
        holds_pb2.HOLD_STATE_FROZEN,
        1,
        "GA-5",
        [],
    )

    async def at_the_bank() -> bool:
        term = world.hold_until(acct("M"))
        return world.held(acct("M")) == 60_000 and term is not None and term.change == "FORMAL_FREEZE"

    await eventually(at_the_bank)

    # Sent again (a retry), it is answered as it was, and taken once.
    again = await holds.Approve(approve(approval_id, request_id="approve-1"))
    assert (again.replayed, again.hold.state, again.hold.freezes) == (True, holds_pb2.HOLD_STATE_FROZEN, 1)
    assert len(await orders_of(pool, case, "extend")) == 1
    # Another approval of the same request, the same request_id for something else, an unknown id.
    info = await refusal(holds.Approve(approve(approval_id, officer="sup-2")), grpc.StatusCode.FAILED_PRECONDITION)
    assert info.reason == "APPROVAL_ALREADY_GIVEN"
    info = await refusal(
        holds.Approve(approve(approval_id, request_id="approve-1", reason="other")), grpc.StatusCode.ALREADY_EXISTS
    )
    assert info.reason == "REQUEST_ID_REUSED"
    info = await refusal(holds.Approve(approve(str(uuid.uuid4()))), grpc.StatusCode.NOT_FOUND)
    assert info.reason == "APPROVAL_NOT_FOUND"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await holds.Approve(approve("nope"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "approval_id" in err.value.details()

    # The chain: who asked, then who approved, naming both, then the formal freeze the approval took.
    events = [
        e
        for e in await events_of(pool, case)
        if e["kind"] in ("approval.requested", "approval.granted", "hold.formalized")
    ]
    assert [(e["kind"], e["actor"]) for e in events] == [
        ("approval.requested", "officer:O-1001"),
        ("approval.granted", "officer:sup-1"),
        ("hold.formalized", "officer:sup-1"),
    ]
    for e in events[1:]:
        assert (e["detail"]["approval_id"], e["detail"]["requested_by"], e["detail"]["approved_by"]) == (
            approval_id,
            "officer:O-1001",
            "officer:sup-1",
        )
    assert events[0]["detail"]["document"]["number"] == "GA-5"
    # The approval only moves on, in the database too, and is never deleted.
    assert (
        await pool.fetchval("SELECT status FROM hold_approvals WHERE approval_id = $1", uuid.UUID(approval_id))
        == "approved"
    )
    for statement in (
        "UPDATE hold_approvals SET status = 'requested'",
        "UPDATE hold_approvals SET approved_by = 'x'",
        "DELETE FROM hold_approvals",
    ):
        with pytest.raises(asyncpg.CheckViolationError):
            await pool.execute(statement)
    report = await audit.verify(pool)
    assert report.ok, report.breaks


async def test_an_approval_after_the_hold_was_released_is_refused(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    app, (case,) = await start(make_app, channel_to, one_victim(tmp_path))
    holds = holds_to(app)
    asked = await holds.Formalize(
        holds_pb2.FormalizeRequest(hold=ref(case), by=by(), document=document("GA-5", 60_000))
    )
    await holds.ReleaseHold(holds_pb2.ReleaseHoldRequest(hold=ref(case), by=by("payroll account")))
    info = await refusal(holds.Approve(approve(asked.pending[0].approval_id)), grpc.StatusCode.FAILED_PRECONDITION)
    assert (info.reason, info.metadata["state"]) == ("APPROVAL_OUTDATED", "released")
    hold = await the_hold(holds, case)
    assert (hold.state, list(hold.pending)) == (holds_pb2.HOLD_STATE_RELEASED, [])  # no longer shown as waiting
    assert await orders_of(pool, case, "extend") == []
    await eventually(lambda: _statuses(pool, case, "release", ["released"]))
    assert app.adapters["BK"].world.held(acct("M")) == 0


async def test_a_return_waits_for_a_second_officer(make_app, channel_to, holds_to, pool, tmp_path) -> None:
    app, (case,) = await start(make_app, channel_to, one_victim(tmp_path))
    holds = holds_to(app)
    world = app.adapters["BK"].world
    await formalized(holds, holds_pb2.FormalizeRequest(hold=ref(case), by=by(), document=document("GA-1", 100_000)))
    await eventually(lambda: _statuses(pool, case, "extend", ["extended"]))
    request = holds_pb2.ReturnFundsRequest(
        account=common_pb2.AccountRef(bank_code="BK", number=M), by=by("verdict", "ret-1")
    )
    asked = await holds.ReturnFunds(request)
    assert (asked.awaiting_approval, asked.direct, asked.total_minor, asked.HasField("due_at")) == (
        True,
        True,
        100_000,
        False,
    )
    assert [(p.case_id, p.amount_minor) for p in asked.parts] == [(case.case_id, 100_000)]
    again = await holds.ReturnFunds(request)
    assert (again.replayed, again.approval_id, again.awaiting_approval) == (True, asked.approval_id, True)
    (pending,) = (await the_hold(holds, case)).pending
    assert (pending.approval_id, pending.action, pending.amount_minor) == (
        asked.approval_id,
        holds_pb2.APPROVAL_ACTION_RETURN,
        100_000,
    )

    info = await refusal(
        holds.Approve(approve(asked.approval_id, officer="O-1001")), grpc.StatusCode.FAILED_PRECONDITION
    )
    assert info.reason == "SAME_APPROVER"
    assert await orders_of(pool, case, "return") == []
    assert (world.held(acct("M")), world.balance(acct("V"))) == (100_000, 0)
    assert (await the_hold(holds, case)).state == holds_pb2.HOLD_STATE_FROZEN

    done = await holds.Approve(approve(asked.approval_id, officer="sup-1"))
    assert (done.action, done.returned.direct, done.returned.total_minor, done.returned.awaiting_approval) == (
        holds_pb2.APPROVAL_ACTION_RETURN,
        True,
        100_000,
        False,
    )
    assert done.returned.HasField("due_at")
    # The request sent again now says what it came to: the return, started.
    again = await holds.ReturnFunds(request)
    assert (again.replayed, again.awaiting_approval, again.due_at) == (True, False, done.returned.due_at)

    async def paid() -> bool:  # at the bank, then recorded by stopay
        return (world.held(acct("M")), world.balance(acct("V"))) == (0, 100_000) and (
            await the_hold(holds, case)
        ).state == holds_pb2.HOLD_STATE_RETURNED

    await eventually(paid)
    events = {e["kind"]: e for e in await events_of(pool, case)}
    granted = events["approval.granted"]
    assert (granted["actor"], granted["detail"]["requested_by"], granted["detail"]["action"]) == (
        "officer:sup-1",
        "officer:O-1001",
        "return",
    )
    assert events["return.planned"]["detail"]["approved_by"] == "officer:sup-1"
    report = await audit.verify(pool)
    assert report.ok, report.breaks

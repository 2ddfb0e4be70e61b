"""Who may see and do what, over real TLS: a station reads its own cases only, a center its region's,
a bank reports only on its own orders, and a hold step is taken only by the officer whose certificate
it is. The attacks tried on the plain-text service are each refused here, and the bank's holds stay
as they were."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from bank_adapters.protocol import AnswerStatus, ExtendRequest, FreezeAnswer, ReleaseRequest, ReturnRequest
from stopay.dispatch.dispatcher import DispatchSettings
from stopay.v1 import (
    common_pb2,
    gateway_pb2,
    gateway_pb2_grpc,
    holds_pb2,
    holds_pb2_grpc,
    station_pb2,
    station_pb2_grpc,
)
from tests.conftest import eventually
from tests.entries import confirm, simple_request
from tests.fakebank import FakeBank
from tests.identities import Pki

FAST = DispatchSettings(poll_s=0.1, retry_base_s=0.05, retry_cap_s=0.3, pending_recheck_s=60.0)
YUZHONG, JIANGBEI = "CQ-YUZHONG-01", "CQ-JIANGBEI-02"
MULE = ("CBK", "6222020200004444", 90_000)


async def refused(call: Any, code: grpc.StatusCode = grpc.StatusCode.PERMISSION_DENIED) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await call
    assert failed.value.code() == code, failed.value.details()
    status = rpc_status.from_call(failed.value)
    for detail in status.details if status else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    return ""


def station(pki: Pki, app: Any, name: str) -> station_pb2_grpc.StationServiceStub:
    return station_pb2_grpc.StationServiceStub(pki.as_(app.port, "station", name))


def entry(station_id: str = "") -> station_pb2.SubmitEntryRequest:
    request = simple_request(MULE)
    request.station_id = station_id
    return request


async def test_a_station_reads_its_own_cases_and_a_center_its_region(make_app, pki: Pki, pool) -> None:
    bank = FakeBank({"CBK"})
    app = await make_app(
        tls=pki.server, bank_adapters={"CBK": bank}, dispatch=FAST, regions={"cq-yuzhong": ("CQ-YUZHONG",)}
    )
    yuzhong, jiangbei = station(pki, app, YUZHONG), station(pki, app, JIANGBEI)
    # The station's name comes from its certificate: left empty, it is filled in; another is refused.
    mine = await yuzhong.SubmitEntry(entry(""))
    assert await pool.fetchval("SELECT station_id FROM cases WHERE case_id = $1::uuid", mine.case_id) == YUZHONG
    assert await refused(yuzhong.SubmitEntry(entry(JIANGBEI))) == "IDENTITY_MISMATCH"
    theirs = await jiangbei.SubmitEntry(entry(JIANGBEI))

    assert (await yuzhong.GetCase(station_pb2.GetCaseRequest(case_id=mine.case_id))).station_id == YUZHONG
    assert await refused(yuzhong.GetCase(station_pb2.GetCaseRequest(case_id=theirs.case_id))) == "CASE_OUT_OF_SCOPE"
    assert (
        await refused(yuzhong.WatchCase(station_pb2.WatchCaseRequest(case_id=theirs.case_id)).read())
        == "CASE_OUT_OF_SCOPE"
    )
    listed = await yuzhong.ListCases(station_pb2.ListCasesRequest())
    assert [c.case_id for c in listed.cases] == [mine.case_id]
    assert await refused(yuzhong.ListCases(station_pb2.ListCasesRequest(station_id=JIANGBEI))) == "IDENTITY_MISMATCH"

    center = station_pb2_grpc.StationServiceStub(pki.as_(app.port, "center", "cq-yuzhong"))
    assert [c.case_id for c in (await center.ListCases(station_pb2.ListCasesRequest())).cases] == [mine.case_id]
    assert (await center.GetCase(station_pb2.GetCaseRequest(case_id=mine.case_id))).case_id == mine.case_id
    assert await refused(center.GetCase(station_pb2.GetCaseRequest(case_id=theirs.case_id))) == "CASE_OUT_OF_SCOPE"
    elsewhere = station_pb2_grpc.StationServiceStub(pki.as_(app.port, "center", "sh"))  # no region configured
    assert (await elsewhere.ListCases(station_pb2.ListCasesRequest())).cases == []

    auditor = station_pb2_grpc.StationServiceStub(pki.as_(app.port, "auditor", "a17"))
    assert {c.case_id for c in (await auditor.ListCases(station_pb2.ListCasesRequest())).cases} == {
        mine.case_id,
        theirs.case_id,
    }
    # The chain records who the certificate says, not what the request says.
    actor = await pool.fetchval(
        "SELECT actor FROM case_events WHERE case_id = $1::uuid ORDER BY seq LIMIT 1", mine.case_id
    )
    assert actor == f"stopay://station/{YUZHONG}"


async def _pending(make_app, pki: Pki, pool) -> tuple[Any, str]:  # type: ignore[no-untyped-def]
    bank = FakeBank({"CBK"})
    bank.on_freeze = lambda r: FreezeAnswer(AnswerStatus.PDCR)
    app = await make_app(tls=pki.server, bank_adapters={"CBK": bank}, dispatch=FAST)
    await station(pki, app, YUZHONG).SubmitEntry(entry())

    # The stop is the freeze that goes out (its freeze order's statement finds the money asked for
    # already, so that order sends none): it is the order that pends.
    async def is_pending() -> bool:
        return await pool.fetchval("SELECT status FROM freeze_orders WHERE kind = 'stop'") == "pending"

    await eventually(is_pending)
    keys = [r.idempotency_key for r in bank.requests if type(r).__name__ == "FreezeRequest"]
    stop_key = await pool.fetchval("SELECT idempotency_key FROM freeze_orders WHERE kind = 'stop'")
    assert keys == [stop_key] and stop_key.endswith("/stop")
    return app, stop_key


async def test_a_forged_callback_for_another_bank_s_order_changes_nothing(make_app, pki: Pki, pool) -> None:
    app, key = await _pending(make_app, pki, pool)
    forged = gateway_pb2.FreezeOutcome(idempotency_key=key, status=gateway_pb2.ANSWER_STATUS_RJCR, reason_code="AC04")
    other_bank = gateway_pb2_grpc.BankGatewayStub(pki.as_(app.port, "bank", "ICBC"))
    assert await refused(other_bank.ReportFreezeOutcome(forged)) == "ORDER_OF_ANOTHER_BANK"
    forged.bank_code = "CBK"  # naming the right bank does not make ICBC that bank
    assert await refused(other_bank.ReportFreezeOutcome(forged)) == "IDENTITY_MISMATCH"
    as_station = gateway_pb2_grpc.BankGatewayStub(pki.as_(app.port, "station", YUZHONG))
    assert await refused(as_station.ReportFreezeOutcome(forged)) == "ROLE_NOT_ALLOWED"
    assert await pool.fetchval("SELECT status FROM freeze_orders WHERE kind = 'stop'") == "pending"
    # The bank the order went to reports, as itself.
    own_bank = gateway_pb2_grpc.BankGatewayStub(pki.as_(app.port, "bank", "CBK"))
    ack = await own_bank.ReportFreezeOutcome(
        gateway_pb2.FreezeOutcome(idempotency_key=key, status=gateway_pb2.ANSWER_STATUS_ACCR, held_minor=MULE[2])
    )
    assert (ack.applied, ack.order_status) == (True, station_pb2.ORDER_STATUS_HELD)
    assert await pool.fetchval("SELECT actor FROM case_events WHERE kind = 'order.held'") == "stopay://bank/CBK"


async def test_a_release_by_anyone_but_the_officer_of_the_certificate_is_refused(make_app, pki: Pki, pool) -> None:
    bank = FakeBank({"CBK"})
    app = await make_app(tls=pki.server, bank_adapters={"CBK": bank}, dispatch=FAST)
    case = await station(pki, app, YUZHONG).SubmitEntry(entry())

    async def stopped() -> bool:
        return await pool.fetchval("SELECT state FROM holds") == "stopped"

    await eventually(stopped)

    def release(officer_id: str) -> holds_pb2.ReleaseHoldRequest:
        return holds_pb2.ReleaseHoldRequest(
            hold=holds_pb2.HoldRef(
                case_id=case.case_id, account=common_pb2.AccountRef(bank_code=MULE[0], number=MULE[1])
            ),
            by=holds_pb2.StepBy(officer_id=officer_id, reason="unrelated", request_id="r-1"),
        )

    as_station = holds_pb2_grpc.HoldServiceStub(pki.as_(app.port, "station", YUZHONG))
    assert await refused(as_station.ReleaseHold(release("nobody-at-all"))) == "ROLE_NOT_ALLOWED"
    officer = holds_pb2_grpc.HoldServiceStub(pki.as_(app.port, "officer", "500106012345"))
    assert await refused(officer.ReleaseHold(release("nobody-at-all"))) == "IDENTITY_MISMATCH"
    auditor = holds_pb2_grpc.HoldServiceStub(pki.as_(app.port, "auditor", "a17"))
    assert await refused(auditor.ReleaseHold(release(""))) == "ROLE_NOT_ALLOWED"
    assert await pool.fetchval("SELECT state FROM holds") == "stopped"
    assert not [r for r in bank.requests if isinstance(r, ReleaseRequest)]

    hold = await officer.ReleaseHold(release(""))  # the officer's own name, from the certificate
    assert hold.state in (holds_pb2.HOLD_STATE_STOPPED, holds_pb2.HOLD_STATE_RELEASED)
    actors = await pool.fetch("SELECT actor FROM case_events WHERE kind LIKE 'hold.%' ORDER BY seq")
    assert "stopay://officer/500106012345" in {r["actor"] for r in actors}


async def test_a_fake_victim_s_return_needs_a_second_identity_a_supervisor(make_app, pki: Pki, pool) -> None:
    """A genuine ¥30,000 purchase entered as fraud: the merchant's money is stopped, but no officer
    alone can formalize it under an invented document and pay it out."""
    bank = FakeBank({"CBK"})
    app = await make_app(tls=pki.server, bank_adapters={"CBK": bank}, dispatch=FAST)
    purchase = entry()
    purchase.transfers[0].amount_minor = 3_000_000
    confirm(purchase)
    case = await station(pki, app, YUZHONG).SubmitEntry(purchase)

    async def stopped() -> bool:
        return await pool.fetchval("SELECT state FROM holds") == "stopped"

    await eventually(stopped)
    ref = holds_pb2.HoldRef(case_id=case.case_id, account=common_pb2.AccountRef(bank_code=MULE[0], number=MULE[1]))
    invented = holds_pb2.LegalDocument(number="FAKE-1", approver="nobody", amount_minor=3_000_000, scope="the account")

    def by(request_id: str) -> holds_pb2.StepBy:
        return holds_pb2.StepBy(reason="victim's money", request_id=request_id)

    officer = holds_pb2_grpc.HoldServiceStub(pki.as_(app.port, "officer", "500106012345"))
    asked = await officer.Formalize(holds_pb2.FormalizeRequest(hold=ref, by=by("f-1"), document=invented))
    assert asked.state == holds_pb2.HOLD_STATE_STOPPED and [p.action for p in asked.pending] == [
        holds_pb2.APPROVAL_ACTION_FORMALIZE
    ]
    approval_id = asked.pending[0].approval_id
    assert asked.pending[0].requested_by == "stopay://officer/500106012345"
    # The officer may not approve at all; a supervisor may not approve what it asked itself.
    assert (
        await refused(officer.Approve(holds_pb2.ApproveRequest(approval_id=approval_id, by=by("a-1"))))
        == "ROLE_NOT_ALLOWED"
    )
    supervisor = holds_pb2_grpc.HoldServiceStub(pki.as_(app.port, "supervisor", "cq-0007"))
    own = await supervisor.Formalize(holds_pb2.FormalizeRequest(hold=ref, by=by("f-2"), document=invented))
    own_id = next(p.approval_id for p in own.pending if p.requested_by == "stopay://supervisor/cq-0007")
    assert (
        await refused(
            supervisor.Approve(holds_pb2.ApproveRequest(approval_id=own_id, by=by("a-2"))),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        == "SAME_APPROVER"
    )
    # Nothing formal, so nothing to return; and a station may not even ask.
    assert (
        await refused(
            officer.ReturnFunds(
                holds_pb2.ReturnFundsRequest(
                    account=common_pb2.AccountRef(bank_code=MULE[0], number=MULE[1]), by=by("r-1")
                )
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        == "HOLD_STEP_REFUSED"
    )
    as_station = holds_pb2_grpc.HoldServiceStub(pki.as_(app.port, "station", YUZHONG))
    assert (
        await refused(
            as_station.ReturnFunds(
                holds_pb2.ReturnFundsRequest(
                    account=common_pb2.AccountRef(bank_code=MULE[0], number=MULE[1]), by=by("r-2")
                )
            )
        )
        == "ROLE_NOT_ALLOWED"
    )
    assert await pool.fetchval("SELECT state FROM holds") == "stopped"
    assert not [r for r in bank.requests if isinstance(r, ExtendRequest | ReturnRequest)]

    # A second identity with the supervisor role approves the officer's request: it takes effect,
    # and the chain names both.
    other = holds_pb2_grpc.HoldServiceStub(pki.as_(app.port, "supervisor", "cq-0008"))
    done = await other.Approve(holds_pb2.ApproveRequest(approval_id=approval_id, by=by("a-3")))
    assert (done.requested_by, done.approved_by) == ("stopay://officer/500106012345", "stopay://supervisor/cq-0008")
    granted = await pool.fetchval("SELECT detail FROM case_events WHERE kind = 'approval.granted'")
    assert "stopay://officer/500106012345" in str(granted) and "stopay://supervisor/cq-0008" in str(granted)

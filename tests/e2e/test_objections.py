"""A holder's objection to a hold, end to end: filed at a station or through the bank gateway,
decided in time (release or keep), or warned of and escalated by the sweeper when the database
clock (stopay_clock) passes its deadline."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import grpc
import pytest

from stopay.domain.holds import HoldPolicy
from stopay.store import audit
from stopay.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc, holds_pb2, station_pb2
from tests.conftest import eventually
from tests.e2e.test_cli import stopay
from tests.e2e.test_holds import M, _statuses, at, events_of, one_victim, orders_of, ref, refused, set_clock, start
from tests.handmade import acct

# An emergency stop long enough that moving the clock past an objection's deadline does not lapse it.
LONG_STOP = HoldPolicy(stop_hours=240)


def filing(case, request_id: str | None = None, **fields: object) -> holds_pb2.FileObjectionRequest:
    request = holds_pb2.FileObjectionRequest(
        hold=ref(case),
        holder_name="Zhang Wei",
        grounds="the money is my salary from my employer",
        documents=["payslip 2026-11", "employment contract"],
        by=holds_pb2.StepBy(officer_id="O-1001", request_id=request_id or uuid.uuid4().hex),
    )
    for name, value in fields.items():
        setattr(request, name, value)
    return request


def deciding(objection_id: str, decision: int, reasons: str = "payslips checked") -> holds_pb2.DecideObjectionRequest:
    return holds_pb2.DecideObjectionRequest(
        objection_id=objection_id,
        decision=decision,
        by=holds_pb2.StepBy(officer_id="sup-1", reason=reasons, request_id=uuid.uuid4().hex),
    )


async def test_an_objection_upheld_in_time_releases_the_hold_at_the_bank(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    app, (case,) = await start(make_app, channel_to, one_victim(tmp_path))
    holds = holds_to(app)
    request_id = uuid.uuid4().hex
    filed = await holds.FileObjection(filing(case, request_id))
    assert filed.open and not filed.overdue and filed.via == holds_pb2.OBJECTION_VIA_STATION
    assert filed.taken_by == "O-1001" and list(filed.documents) == ["payslip 2026-11", "employment contract"]
    # The default deadline: three days.
    assert at(filed.due_at) - at(filed.filed_at) == timedelta(days=3)
    again = await holds.FileObjection(filing(case, request_id))  # a retry: the same objection, not a second
    assert (again.objection_id, again.replayed) == (filed.objection_id, True)

    decided = await holds.DecideObjection(deciding(filed.objection_id, holds_pb2.OBJECTION_DECISION_RELEASE))
    assert not decided.open and decided.decision == holds_pb2.OBJECTION_DECISION_RELEASE
    assert decided.decided_by == "officer:sup-1" and decided.reasons == "payslips checked"
    # The hold is released, and the release order reaches the bank.
    (hold,) = (await holds.ListHolds(holds_pb2.ListHoldsRequest(case_id=case.case_id))).holds
    assert hold.state == holds_pb2.HOLD_STATE_RELEASED
    await eventually(lambda: _statuses(pool, case, "release", ["released"]))
    assert app.adapters["BK"].world.held(acct("M")) == 0
    kinds = [e["kind"] for e in await events_of(pool, case)]
    assert kinds.index("objection.filed") < kinds.index("hold.released") < kinds.index("objection.decided")
    assert kinds.count("objection.filed") == 1
    # Decided once: a second decision is refused.
    await refused(
        holds.DecideObjection(deciding(filed.objection_id, holds_pb2.OBJECTION_DECISION_KEEP)),
        grpc.StatusCode.FAILED_PRECONDITION,
        "decided already",
    )
    report = await audit.verify(pool)
    assert report.ok, report.breaks


async def test_an_objection_refused_keeps_the_hold_and_only_adds_events(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    app, (case,) = await start(make_app, channel_to, one_victim(tmp_path))
    holds = holds_to(app)
    filed = await holds.FileObjection(filing(case))
    orders_before = len(await orders_of(pool, case, "release"))
    decided = await holds.DecideObjection(
        deciding(filed.objection_id, holds_pb2.OBJECTION_DECISION_KEEP, "the salary story does not match")
    )
    assert decided.decision == holds_pb2.OBJECTION_DECISION_KEEP and not decided.open
    (hold,) = (await holds.ListHolds(holds_pb2.ListHoldsRequest(case_id=case.case_id))).holds
    assert (hold.state, hold.held_minor) == (holds_pb2.HOLD_STATE_STOPPED, 100_000)
    assert len(await orders_of(pool, case, "release")) == orders_before
    assert app.adapters["BK"].world.held(acct("M")) == 100_000
    decided_events = [e for e in await events_of(pool, case) if e["kind"] == "objection.decided"]
    assert [e["detail"]["decision"] for e in decided_events] == ["keep"]
    watching = channel_to(app).WatchCase(station_pb2.WatchCaseRequest(case_id=case.case_id))
    shown = await watching.read()  # the first update holds every event so far
    watching.cancel()
    (summary,) = [e.summary for e in shown.events if e.kind == station_pb2.EVENT_KIND_OBJECTION_DECIDED]
    assert "keep" in summary and "the salary story does not match" in summary
    # Once decided, another objection may be filed.
    assert (await holds.FileObjection(filing(case))).open


async def test_a_bank_files_its_holders_objection_and_a_second_open_one_is_refused(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    app, (case,) = await start(make_app, channel_to, one_victim(tmp_path))
    holds = holds_to(app)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        gateway = gateway_pb2_grpc.BankGatewayStub(channel)
        receipt = await gateway.FileObjection(
            gateway_pb2.ObjectionFiling(
                bank_code="BK",
                case_id=case.case_id,
                account=common_pb2.AccountRef(bank_code="BK", number=M),
                holder_name="Zhang Wei",
                grounds="a loan repaid by a friend",
                documents=["loan agreement"],
                request_id="bk-obj-1",
            )
        )
        assert receipt.objection_id and not receipt.replayed
        again = await gateway.FileObjection(
            gateway_pb2.ObjectionFiling(
                bank_code="BK",
                case_id=case.case_id,
                account=common_pb2.AccountRef(bank_code="BK", number=M),
                holder_name="Zhang Wei",
                grounds="a loan repaid by a friend",
                documents=["loan agreement"],
                request_id="bk-obj-1",
            )
        )
        assert (again.objection_id, again.replayed) == (receipt.objection_id, True)
        # The account must be at the filing bank; every bad field is named.
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await gateway.FileObjection(
                gateway_pb2.ObjectionFiling(
                    bank_code="BK",
                    case_id="nope",
                    account=common_pb2.AccountRef(bank_code="OTHER", number=M),
                    holder_name="",
                    grounds="x",
                    documents=[""],
                    request_id="bk-obj-2",
                )
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        for name in ("case_id", "account.bank_code", "holder_name", "documents[0]"):
            assert name in err.value.details()
    (listed,) = (await holds.ListObjections(holds_pb2.ListObjectionsRequest(case_id=case.case_id))).objections
    assert (listed.objection_id, listed.via, listed.taken_by) == (
        receipt.objection_id,
        holds_pb2.OBJECTION_VIA_BANK,
        "BK",
    )
    (filed,) = [e for e in await events_of(pool, case) if e["kind"] == "objection.filed"]
    assert filed["actor"] == "bank:BK" and filed["detail"]["via"] == "bank"
    # One open objection per hold at a time.
    await refused(holds.FileObjection(filing(case)), grpc.StatusCode.FAILED_PRECONDITION, "is open")
    assert await pool.fetchval("SELECT count(*) FROM objections") == 1


async def test_an_undecided_objection_is_warned_of_then_escalated_past_its_deadline(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    app, (case,) = await start(make_app, channel_to, one_victim(tmp_path), holds=LONG_STOP)
    holds = holds_to(app)
    filed = await holds.FileObjection(filing(case))

    async def row():
        return await pool.fetchrow("SELECT warned_at, escalated_at FROM objections")

    await set_clock(pool, timedelta(days=2, hours=12))  # 12 hours before the deadline: within the warning

    async def warned() -> bool:
        return (await row())["warned_at"] is not None

    await eventually(warned)
    assert (await row())["escalated_at"] is None
    assert not (await holds.ListObjections(holds_pb2.ListObjectionsRequest(overdue_only=True))).objections

    await set_clock(pool, timedelta(days=3, hours=1))

    async def escalated() -> bool:
        return (await row())["escalated_at"] is not None

    await eventually(escalated)
    (overdue,) = (await holds.ListObjections(holds_pb2.ListObjectionsRequest(overdue_only=True))).objections
    assert overdue.objection_id == filed.objection_id and overdue.overdue and overdue.open
    assert overdue.HasField("warned_at") and overdue.HasField("escalated_at")
    kinds = [e["kind"] for e in await events_of(pool, case)]
    assert [k for k in kinds if k.startswith("objection.")] == [
        "objection.filed",
        "objection.due_soon",
        "objection.escalated",
    ]
    report = await audit.verify(pool)
    assert report.ok, report.breaks
    # Decided late, it is decided all the same; the event says it was late.
    await holds.DecideObjection(deciding(filed.objection_id, holds_pb2.OBJECTION_DECISION_KEEP))
    (decided,) = [e for e in await events_of(pool, case) if e["kind"] == "objection.decided"]
    assert decided["detail"]["late"] is True
    assert not (await holds.ListObjections(holds_pb2.ListObjectionsRequest(open_only=True))).objections


async def test_bad_objections_name_their_fields_and_write_nothing(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    app, (case,) = await start(make_app, channel_to, one_victim(tmp_path))
    holds = holds_to(app)
    bad = holds_pb2.FileObjectionRequest(
        hold=holds_pb2.HoldRef(case_id="nope", account=common_pb2.AccountRef(bank_code="BK", number="12")),
        holder_name="",
        grounds="",
        documents=["x" * 201],
        by=holds_pb2.StepBy(officer_id="", request_id=""),
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await holds.FileObjection(bad)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for name in (
        "hold.case_id",
        "hold.account.number",
        "holder_name",
        "grounds",
        "documents[0]",
        "by.officer_id",
        "by.request_id",
    ):
        assert name in err.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await holds.DecideObjection(holds_pb2.DecideObjectionRequest(objection_id="x", by=holds_pb2.StepBy()))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for name in ("objection_id", "decision", "by.reason"):
        assert name in err.value.details()
    await refused(
        holds.DecideObjection(deciding(str(uuid.uuid4()), holds_pb2.OBJECTION_DECISION_KEEP)),
        grpc.StatusCode.NOT_FOUND,
        "no objection",
    )
    assert await pool.fetchval("SELECT count(*) FROM objections") == 0
    # The database keeps the life too: a decided objection never changes, none is deleted.
    filed = await holds.FileObjection(filing(case))
    await holds.DecideObjection(deciding(filed.objection_id, holds_pb2.OBJECTION_DECISION_KEEP))
    with pytest.raises(Exception, match="decided and cannot change"):
        await pool.execute("UPDATE objections SET state = 'open', decision = NULL")
    with pytest.raises(Exception, match="never deleted"):
        await pool.execute("DELETE FROM objections")


async def test_the_objection_commands_file_list_and_decide(make_app, channel_to, holds_to, pool, tmp_path) -> None:
    app, (case,) = await start(make_app, channel_to, one_victim(tmp_path))
    server = ("--server", f"127.0.0.1:{app.port}")
    filed = await stopay(
        "objection", "file", case.case_id, f"BK:{M}", "--holder", "Zhang Wei", "--grounds", "my salary",
        "--document", "payslip", "--document", "contract", "--officer", "O-1001", "--json", *server,
    )  # fmt: skip
    assert filed.returncode == 0, filed.stderr
    objection = json.loads(filed.stdout)
    assert objection["documents"] == ["payslip", "contract"] and objection["open"] is True
    listed = await stopay("objection", "list", "--case", case.case_id, *server)
    assert listed.returncode == 0, listed.stderr
    assert objection["objection_id"][:8] in listed.stdout and "open" in listed.stdout
    overdue = await stopay("objection", "list", "--overdue", "--json", *server)
    assert json.loads(overdue.stdout) == {"objections": []}
    decided = await stopay(
        "objection",
        "decide",
        objection["objection_id"],
        "keep",
        "--reasons",
        "not proven",
        "--officer",
        "sup-1",
        *server,
    )
    assert decided.returncode == 0, decided.stderr
    assert "keep" in decided.stdout and "decided" in decided.stdout
    bad = await stopay("objection", "decide", "nope", "keep", "--reasons", "x", "--officer", "sup-1", *server)
    assert bad.returncode != 0 and "objection_id" in bad.stderr


async def test_an_objection_partly_upheld_releases_that_much_at_the_bank_and_keeps_the_rest(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    app, (case,) = await start(make_app, channel_to, one_victim(tmp_path))
    holds = holds_to(app)
    server = ("--server", f"127.0.0.1:{app.port}")
    filed = await holds.FileObjection(filing(case))
    decided = await stopay(
        "objection", "decide", filed.objection_id, "--release-part", "300.01", "--reasons", "half of it is salary",
        "--officer", "sup-1", "--json", *server,
    )  # fmt: skip
    assert decided.returncode == 0, decided.stderr
    shown = json.loads(decided.stdout)
    assert shown["decision"] == "OBJECTION_DECISION_RELEASE_PART" and shown["released_minor"] == "30001"
    assert shown["open"] is False and shown["decided_by"] == "officer:sup-1"
    # The release order asks the bank for that amount, in the same transaction as the decision.
    (release,) = await orders_of(pool, case, "release")
    assert release["requested_minor"] == 30_001
    await eventually(lambda: _statuses(pool, case, "release", ["released"]))
    assert app.adapters["BK"].world.held(acct("M")) == 69_999
    # The rest stays held, the hold as it was (an emergency stop, the same expiry); no more than the
    # rest from now on.
    (hold,) = (await holds.ListHolds(holds_pb2.ListHoldsRequest(case_id=case.case_id))).holds
    assert (hold.state, hold.held_minor) == (holds_pb2.HOLD_STATE_STOPPED, 69_999)
    limit = await pool.fetchval("SELECT limit_minor FROM holds WHERE case_id = $1", uuid.UUID(case.case_id))
    assert limit == 69_999
    events = await events_of(pool, case)
    kinds = [e["kind"] for e in events]
    assert "hold.released" not in kinds
    assert kinds.index("objection.filed") < kinds.index("release.queued") < kinds.index("objection.decided")
    (queued,) = [e["detail"] for e in events if e["kind"] == "release.queued"]
    assert (queued["amount_minor"], queued["reason"]) == (30_001, "objection partly upheld")
    (event,) = [e["detail"] for e in events if e["kind"] == "objection.decided"]
    assert (event["decision"], event["released_minor"], event["kept_minor"], event["reasons"]) == (
        "release_part",
        30_001,
        69_999,
        "half of it is salary",
    )
    # The decision is in the case's hash chain, which verifies.
    report = await audit.verify(pool)
    assert report.ok, report.breaks
    watching = channel_to(app).WatchCase(station_pb2.WatchCaseRequest(case_id=case.case_id))
    update = await watching.read()
    watching.cancel()
    (summary,) = [e.summary for e in update.events if e.kind == station_pb2.EVENT_KIND_OBJECTION_DECIDED]
    assert "release_part" in summary and "300.01" in summary and "699.99" in summary
    listed = await stopay("objection", "list", "--case", case.case_id, *server)
    assert listed.returncode == 0 and "release part" in listed.stdout and "300.01" in listed.stdout


async def test_a_partial_release_of_a_bad_amount_is_refused_naming_release_minor_and_writes_nothing(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    app, (case,) = await start(make_app, channel_to, one_victim(tmp_path))
    holds = holds_to(app)
    filed = await holds.FileObjection(filing(case))

    async def written() -> tuple[object, ...]:
        return (
            await pool.fetchval("SELECT count(*) FROM case_events WHERE case_id = $1", uuid.UUID(case.case_id)),
            await pool.fetchval("SELECT count(*) FROM freeze_orders WHERE kind = 'release'"),
            await pool.fetchval("SELECT count(*) FROM objections WHERE state = 'open'"),
            await pool.fetchval("SELECT count(*) FROM hold_requests"),
            await pool.fetchval("SELECT limit_minor FROM holds"),
        )

    before = await written()
    request_id = uuid.uuid4().hex

    def part(amount: int, decision: int = holds_pb2.OBJECTION_DECISION_RELEASE_PART):
        return holds_pb2.DecideObjectionRequest(
            objection_id=filed.objection_id,
            decision=decision,
            release_minor=amount,
            by=holds_pb2.StepBy(officer_id="sup-1", reason="part of it", request_id=request_id),
        )

    # 0, a negative amount, everything held (that is a release), more than held; an amount with another decision.
    for request in (part(0), part(-5), part(100_000), part(100_001), part(500, holds_pb2.OBJECTION_DECISION_KEEP)):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await holds.DecideObjection(request)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
        assert "release_minor" in err.value.details()
        assert await written() == before
    assert app.adapters["BK"].world.held(acct("M")) == 100_000
    # The CLI refuses what it cannot send, and passes on what the server refuses.
    server = ("--server", f"127.0.0.1:{app.port}")
    for amount in ("-1", "1.234", "1000"):
        bad = await stopay(
            "objection", "decide", filed.objection_id, "--release-part", amount, "--reasons", "x",
            "--officer", "sup-1", *server,
        )  # fmt: skip
        assert bad.returncode != 0
        assert ("release_minor" if amount == "1000" else "--release-part") in bad.stderr, bad.stderr
    both = await stopay(
        "objection", "decide", filed.objection_id, "keep", "--release-part", "1", "--reasons", "x", *server
    )
    assert both.returncode != 0 and "one of them" in both.stderr
    assert await written() == before
    # Nothing was claimed: the same request id, with a good amount, is taken.
    decided = await holds.DecideObjection(part(1))
    assert (decided.decision, decided.released_minor) == (holds_pb2.OBJECTION_DECISION_RELEASE_PART, 1)
    # Sent again, it is answered as it was, and releases nothing more; another amount under the same
    # request id is refused.
    again = await holds.DecideObjection(part(1))
    assert (again.objection_id, again.released_minor, again.replayed) == (filed.objection_id, 1, True)
    assert [o["requested_minor"] for o in await orders_of(pool, case, "release")] == [1]
    await refused(holds.DecideObjection(part(2)), grpc.StatusCode.ALREADY_EXISTS, request_id)

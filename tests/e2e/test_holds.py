"""The life of a hold, end to end: entries through gRPC, the simulated banks, a real PostgreSQL whose
hold clock (stopay_clock) the tests move, and the sweeper running as it does in production."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest

from bank_adapters.simulated.scenario import parse_scenario
from stopay.dispatch.dispatcher import DispatchSettings
from stopay.domain.holds import HoldPolicy
from stopay.domain.trail import Limits
from stopay.v1 import common_pb2, holds_pb2, holds_pb2_grpc, station_pb2
from tests.conftest import db_now, eventually
from tests.entries import scenario_requests
from tests.handmade import acct, check, world_data
from tests.integration.test_station_api import settled_case as settled

TABLE = json.loads((Path(__file__).parents[1] / "data" / "attribution-table.json").read_text(encoding="utf-8"))
M = "ACCOUNTM"
FAST = dict(poll_s=0.1, retry_base_s=0.05, retry_cap_s=0.5, pending_recheck_s=0.2, sweep_s=0.1)


def one_victim(tmp_path: Path) -> Path:
    """Victim V pays ¥1,000 into mule M, which keeps it."""
    data = world_data(
        {"V": 100_000, "M": 0},
        [("V", "M", 100_000, "T1")],
        [check("one victim", "libr", [["T1"]], {"M": 100_000}, min_amount=0)],
    )
    return _write(tmp_path, data)


def two_victims(tmp_path: Path) -> Path:
    """The attribution table's rateable return: A pays ¥1,000 and B ¥500 into M, ¥700 leaves in cash,
    ¥800 is held; A's case holds it all (B's money came later and, to A's case, is M's own)."""
    data = world_data(
        {"A": 100_000, "B": 50_000, "M": 0},
        [("A", "M", 100_000, "TA"), ("B", "M", 50_000, "TB"), ("M", "CASH", 70_000, "TX")],
        [check("two victims", "libr", [["TA"], ["TB"]], {"M": 80_000}, min_amount=0)],
    )
    return _write(tmp_path, data)


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    parse_scenario(data)  # fails early on a bad hand-made world
    path = tmp_path / f"{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


async def start(make_app, channel_to, path: Path, **overrides: Any) -> tuple[Any, list[station_pb2.Case]]:
    """An app serving the world at ``path``; submits its check's entries one after the other, each once
    the previous has settled, and returns the settled cases."""
    overrides.setdefault("dispatch", DispatchSettings(**FAST))
    app = await make_app(path, limits=Limits("libr", 5, 0), **overrides)
    stub = channel_to(app)
    cases = []
    for request in scenario_requests(app, path):
        reply = await stub.SubmitEntry(request)
        cases.append(await settled(stub, reply.case_id))
    return app, cases


async def set_clock(pool: asyncpg.Pool, shift: timedelta) -> None:
    """Moves the database clock the hold lifecycle reads (stopay_now())."""
    await pool.execute("INSERT INTO stopay_clock (shift) VALUES ($1) ON CONFLICT (one) DO UPDATE SET shift = $1", shift)


def ref(case: station_pb2.Case) -> holds_pb2.HoldRef:
    return holds_pb2.HoldRef(case_id=case.case_id, account=common_pb2.AccountRef(bank_code="BK", number=M))


def by(reason: str = "still investigating", request_id: str | None = None) -> holds_pb2.StepBy:
    return holds_pb2.StepBy(officer_id="O-1001", reason=reason, request_id=request_id or uuid.uuid4().hex)


SUPERVISOR = "sup-1"


async def approved(
    holds: holds_pb2_grpc.HoldServiceStub, asked: Any, supervisor: str = SUPERVISOR, request_id: str | None = None
) -> Any:
    """Approves, as a second officer, the formal freeze or return ``asked`` (what Formalize or
    ReturnFunds answered) awaits; returns what it came to: the Hold, or the ReturnFundsResponse."""
    if isinstance(asked, holds_pb2.Hold):
        approval_id = [p for p in asked.pending if p.action == holds_pb2.APPROVAL_ACTION_FORMALIZE][-1].approval_id
    else:
        assert asked.awaiting_approval and not asked.HasField("due_at")
        approval_id = asked.approval_id
    reply = await holds.Approve(
        holds_pb2.ApproveRequest(
            approval_id=approval_id,
            by=holds_pb2.StepBy(
                officer_id=supervisor, reason="reviewed the file", request_id=request_id or uuid.uuid4().hex
            ),
        )
    )
    return reply.hold if reply.HasField("hold") else reply.returned


async def formalized(
    holds: holds_pb2_grpc.HoldServiceStub, request: holds_pb2.FormalizeRequest, supervisor: str = SUPERVISOR
) -> holds_pb2.Hold:
    """A formal freeze asked for and approved by a second officer."""
    return await approved(holds, await holds.Formalize(request), supervisor)


async def returned_funds(
    holds: holds_pb2_grpc.HoldServiceStub, request: holds_pb2.ReturnFundsRequest, supervisor: str = SUPERVISOR
) -> holds_pb2.ReturnFundsResponse:
    """A return asked for and approved by a second officer."""
    return await approved(holds, await holds.ReturnFunds(request), supervisor)


def document(number: str, amount_minor: int) -> holds_pb2.LegalDocument:
    return holds_pb2.LegalDocument(
        number=number,
        approver="Chief Wang",
        amount_minor=amount_minor,
        scope="funds received from the victim",
        interest_included=True,
    )


async def the_hold(holds, case: station_pb2.Case) -> holds_pb2.Hold:
    (hold,) = (await holds.ListHolds(holds_pb2.ListHoldsRequest(case_id=case.case_id))).holds
    return hold


async def orders_of(pool: asyncpg.Pool, case: station_pb2.Case, kind: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT * FROM freeze_orders WHERE case_id = $1 AND kind = $2 ORDER BY created_at",
        uuid.UUID(case.case_id),
        kind,
    )


async def events_of(pool: asyncpg.Pool, case: station_pb2.Case) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT kind, actor, detail FROM case_events WHERE case_id = $1 ORDER BY chain_pos", uuid.UUID(case.case_id)
    )


def at(ts) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


async def refused(call, code: grpc.StatusCode, words: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == code, err.value.details()
    assert words in err.value.details()


async def test_a_stop_is_renewed_up_to_its_limit_then_formally_frozen_and_renewed(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    app, (case,) = await start(make_app, channel_to, one_victim(tmp_path))
    holds = holds_to(app)
    world = app.adapters["BK"].world
    hold = await the_hold(holds, case)
    assert (hold.state, hold.held_minor, hold.stops, hold.max_stops, hold.freezes) == (
        holds_pb2.HOLD_STATE_STOPPED,
        100_000,
        1,
        2,
        0,
    )
    assert at(hold.expires_at) - at(hold.stopped_at) == timedelta(hours=48)

    # Renewed once: another 48 hours from the old expiry, and the bank is told.
    first = by(request_id="renew-1")
    renewed = await holds.RenewStop(holds_pb2.RenewStopRequest(hold=ref(case), by=first))
    assert (renewed.state, renewed.stops) == (holds_pb2.HOLD_STATE_STOPPED, 2)
    assert at(renewed.expires_at) == at(hold.expires_at) + timedelta(hours=48)

    async def extended() -> bool:
        return [o["status"] for o in await orders_of(pool, case, "extend")] == ["extended"]

    await eventually(extended)
    assert world.hold_until(acct("M")).until == at(renewed.expires_at)

    # The same request again (a client's retry) changes nothing; the same id for another step is refused.
    again = await holds.RenewStop(holds_pb2.RenewStopRequest(hold=ref(case), by=first))
    assert (again.stops, again.expires_at) == (2, renewed.expires_at)
    await refused(
        holds.RenewStop(holds_pb2.RenewStopRequest(hold=ref(case), by=by("other", "renew-1"))),
        grpc.StatusCode.ALREADY_EXISTS,
        "renew-1",
    )
    # Two stops are the most: a third is refused, saying what to do instead.
    await refused(
        holds.RenewStop(holds_pb2.RenewStopRequest(hold=ref(case), by=by())),
        grpc.StatusCode.FAILED_PRECONDITION,
        "formal freeze",
    )
    assert len(await orders_of(pool, case, "extend")) == 1

    # The formal freeze keeps what the document names (¥600 of ¥1,000) for 6 months; the rest goes back.
    frozen = await formalized(
        holds, holds_pb2.FormalizeRequest(hold=ref(case), by=by("court order"), document=document("GA-2026-17", 60_000))
    )
    assert (frozen.state, frozen.freezes, frozen.document.number, frozen.document.amount_minor) == (
        holds_pb2.HOLD_STATE_FROZEN,
        1,
        "GA-2026-17",
        60_000,
    )
    months = at(frozen.expires_at) - at(frozen.stopped_at)
    assert timedelta(days=181) <= months <= timedelta(days=185)

    async def kept() -> bool:
        return world.held(acct("M")) == 60_000 and (await the_hold(holds, case)).held_minor == 60_000

    await eventually(kept)

    # Renewed under a new document, for a major case: a year more, from the old expiry.
    renewal = await formalized(
        holds,
        holds_pb2.FormalizeRequest(
            hold=ref(case), by=by("renewal"), document=document("GA-2026-18", 60_000), major=True
        ),
    )
    assert (renewal.state, renewal.freezes, renewal.major) == (holds_pb2.HOLD_STATE_FROZEN, 2, True)
    assert (
        at(renewal.expires_at).date() == (at(frozen.expires_at) + timedelta(days=365)).date()
        or at(renewal.expires_at).date() == (at(frozen.expires_at) + timedelta(days=366)).date()
    )
    await eventually(lambda: _statuses(pool, case, "extend", ["extended"] * 3))
    assert world.hold_until(acct("M")).change == "RENEW_FREEZE"
    await refused(
        holds.RenewStop(holds_pb2.RenewStopRequest(hold=ref(case), by=by())),
        grpc.StatusCode.FAILED_PRECONDITION,
        "legal document",
    )

    kinds = [(e["kind"], e["actor"]) for e in await events_of(pool, case) if e["kind"].startswith("hold.")]
    assert kinds[0][1].startswith("dispatcher@")
    assert kinds == [
        ("hold.stopped", kinds[0][1]),
        ("hold.renewed", "officer:O-1001"),
        ("hold.formalized", "officer:sup-1"),
        ("hold.freeze_renewed", "officer:sup-1"),
    ]
    station = await channel_to(app).GetCase(station_pb2.GetCaseRequest(case_id=case.case_id))
    assert (station.held_minor, station.returned_minor) == (60_000, 0)
    assert [(h.state, h.freezes, h.expires_at) for h in station.holds] == [
        (holds_pb2.HOLD_STATE_FROZEN, 2, renewal.expires_at)
    ]


async def _statuses(pool, case, kind: str, expected: list[str]) -> bool:
    return [o["status"] for o in await orders_of(pool, case, kind)] == expected


async def test_bad_hold_requests_name_their_fields_and_change_nothing(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    app, (case,) = await start(make_app, channel_to, one_victim(tmp_path))
    holds = holds_to(app)
    before = await the_hold(holds, case)
    bad = holds_pb2.FormalizeRequest(
        hold=holds_pb2.HoldRef(case_id="nope", account=common_pb2.AccountRef(bank_code="BK", number="12")),
        by=holds_pb2.StepBy(officer_id="", reason="x", request_id="r"),
        document=holds_pb2.LegalDocument(number="", approver="A", amount_minor=0, scope="s"),
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await holds.Formalize(bad)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for name in ("hold.case_id", "hold.account.number", "by.officer_id", "document.number", "document.amount_minor"):
        assert name in err.value.details()
    await refused(
        holds.Formalize(holds_pb2.FormalizeRequest(hold=ref(case), by=by())),
        grpc.StatusCode.INVALID_ARGUMENT,
        "document",
    )
    await refused(
        holds.RenewStop(
            holds_pb2.RenewStopRequest(
                hold=holds_pb2.HoldRef(
                    case_id=str(uuid.uuid4()), account=common_pb2.AccountRef(bank_code="BK", number=M)
                ),
                by=by(),
            )
        ),
        grpc.StatusCode.NOT_FOUND,
        "holds nothing",
    )
    await refused(
        holds.ReturnFunds(
            holds_pb2.ReturnFundsRequest(account=common_pb2.AccountRef(bank_code="BK", number="ACCOUNTX"), by=by())
        ),
        grpc.StatusCode.NOT_FOUND,
        "no case has traced money",
    )
    assert await the_hold(holds, case) == before
    assert await pool.fetchval("SELECT count(*) FROM hold_requests") == 0


async def test_an_emergency_stop_is_warned_of_then_lapses_by_the_database_clock(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    path = one_victim(tmp_path)
    app, (case,) = await start(make_app, channel_to, path)
    holds = holds_to(app)
    world = app.adapters["BK"].world
    # A second replica, on the same database and banks, sweeps too: each step is still taken once.
    await make_app(dispatch=DispatchSettings(**FAST), bank_adapters={"BK": app.adapters["BK"]})

    await set_clock(pool, timedelta(hours=30))  # 18 hours left: not yet warned of (12 hours before)
    await app.sweeper.sweep()
    assert (await the_hold(holds, case)).warned_at.seconds == 0

    await set_clock(pool, timedelta(hours=40))

    async def warned() -> bool:
        return (await the_hold(holds, case)).HasField("warned_at")

    await eventually(warned)
    hold = await the_hold(holds, case)
    assert (hold.state, hold.expired) == (holds_pb2.HOLD_STATE_STOPPED, False)

    await set_clock(pool, timedelta(hours=48, seconds=1))

    async def lapsed() -> bool:
        return (await the_hold(holds, case)).state == holds_pb2.HOLD_STATE_LAPSED

    await eventually(lapsed)
    await eventually(lambda: _statuses(pool, case, "release", ["released"]))
    assert world.held(acct("M")) == 0
    hold = await the_hold(holds, case)
    assert (hold.end_reason, hold.held_minor) == (holds_pb2.HOLD_END_REASON_EXPIRED, 0)
    kinds = [e["kind"] for e in await events_of(pool, case)]
    assert kinds.count("hold.expiring") == 1 and kinds.count("hold.lapsed") == 1
    await refused(
        holds.RenewStop(holds_pb2.RenewStopRequest(hold=ref(case), by=by())),
        grpc.StatusCode.FAILED_PRECONDITION,
        "lapsed",
    )


async def test_a_formal_freeze_not_renewed_lapses_after_its_months(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    app, (case,) = await start(
        make_app,
        channel_to,
        one_victim(tmp_path),
        dispatch=DispatchSettings(**FAST),
        holds=HoldPolicy(freeze_months=3),
    )
    holds = holds_to(app)
    frozen = await formalized(
        holds, holds_pb2.FormalizeRequest(hold=ref(case), by=by(), document=document("GA-1", 100_000))
    )
    assert timedelta(days=88) <= at(frozen.expires_at) - at(frozen.stopped_at) <= timedelta(days=93)
    # Past its expiry by the database clock but not yet swept: a renewal is refused, not a quiet revival.
    await app.sweeper.stop()
    await set_clock(pool, at(frozen.expires_at) - await db_now(pool) + timedelta(days=1))
    await refused(
        holds.Formalize(holds_pb2.FormalizeRequest(hold=ref(case), by=by(), document=document("GA-2", 100_000))),
        grpc.StatusCode.FAILED_PRECONDITION,
        "expired",
    )
    assert (await the_hold(holds, case)).expired
    app.sweeper.start()

    async def lapsed() -> bool:
        return (await the_hold(holds, case)).state == holds_pb2.HOLD_STATE_LAPSED

    await eventually(lapsed)
    await eventually(lambda: _statuses(pool, case, "release", ["released"]))
    assert app.adapters["BK"].world.held(acct("M")) == 0


async def test_an_unrelated_account_is_released(make_app, channel_to, holds_to, pool, tmp_path) -> None:
    app, (case,) = await start(make_app, channel_to, one_victim(tmp_path))
    holds = holds_to(app)
    released = await holds.ReleaseHold(holds_pb2.ReleaseHoldRequest(hold=ref(case), by=by("salary account")))
    assert (released.state, released.end_reason) == (holds_pb2.HOLD_STATE_RELEASED, holds_pb2.HOLD_END_REASON_UNRELATED)
    await eventually(lambda: _statuses(pool, case, "release", ["released"]))
    assert app.adapters["BK"].world.held(acct("M")) == 0
    station = await channel_to(app).GetCase(station_pb2.GetCaseRequest(case_id=case.case_id))
    assert station.held_minor == 0
    await refused(
        holds.ReturnFunds(
            holds_pb2.ReturnFundsRequest(account=common_pb2.AccountRef(bank_code="BK", number=M), by=by())
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "nothing is held",
    )
    await refused(
        holds.ReleaseHold(holds_pb2.ReleaseHoldRequest(hold=ref(case), by=by())),
        grpc.StatusCode.FAILED_PRECONDITION,
        "released",
    )


async def test_a_direct_return_pays_the_one_victim_at_once(make_app, channel_to, holds_to, pool, tmp_path) -> None:
    app, (case,) = await start(make_app, channel_to, one_victim(tmp_path))
    holds = holds_to(app)
    world = app.adapters["BK"].world
    # Only a formal freeze is returned.
    await refused(
        holds.ReturnFunds(
            holds_pb2.ReturnFundsRequest(account=common_pb2.AccountRef(bank_code="BK", number=M), by=by())
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "formal freeze",
    )
    await formalized(holds, holds_pb2.FormalizeRequest(hold=ref(case), by=by(), document=document("GA-1", 100_000)))
    await eventually(lambda: _statuses(pool, case, "extend", ["extended"]))
    returned = await returned_funds(
        holds,
        holds_pb2.ReturnFundsRequest(
            account=common_pb2.AccountRef(bank_code="BK", number=M), by=by("verdict", "ret-1")
        ),
    )
    assert returned.direct and returned.total_minor == 100_000
    assert [(p.case_id, p.amount_minor) for p in returned.parts] == [(case.case_id, 100_000)]
    station = await settled(channel_to(app), case.case_id)
    assert (station.held_minor, station.returned_minor, station.unresolved_minor) == (0, 100_000, 0)
    assert (await the_hold(holds, case)).state == holds_pb2.HOLD_STATE_RETURNED
    assert (world.held(acct("M")), world.balance(acct("V"))) == (0, 100_000)
    again = await holds.ReturnFunds(
        holds_pb2.ReturnFundsRequest(account=common_pb2.AccountRef(bank_code="BK", number=M), by=by("verdict", "ret-1"))
    )
    assert again.replayed and again.total_minor == 100_000
    assert len(await orders_of(pool, case, "return")) == 1


async def test_a_rateable_return_waits_for_its_notice_and_splits_by_loss(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    known = TABLE["rateable_return"]
    app, (case_a, case_b) = await start(make_app, channel_to, two_victims(tmp_path))
    holds = holds_to(app)
    world = app.adapters["BK"].world
    assert (case_a.held_minor, case_b.held_minor) == (known["held"], 0)
    await formalized(
        holds, holds_pb2.FormalizeRequest(hold=ref(case_a), by=by(), document=document("GA-1", known["held"]))
    )
    await eventually(lambda: _statuses(pool, case_a, "extend", ["extended"]))

    started = await returned_funds(
        holds, holds_pb2.ReturnFundsRequest(account=common_pb2.AccountRef(bank_code="BK", number=M), by=by())
    )
    parts = {p.case_id: p.amount_minor for p in started.parts}
    assert not started.direct
    assert parts == {case_a.case_id: known["expect"]["A"], case_b.case_id: known["expect"]["B"]}
    assert timedelta(days=29, hours=23) < at(started.due_at) - await db_now(pool) <= timedelta(days=30)
    # During the notice nothing is paid.
    await app.sweeper.sweep()
    assert world.held(acct("M")) == known["held"]
    assert {o["status"] for o in await orders_of(pool, case_a, "return")} == {"queued"}

    await set_clock(pool, timedelta(days=30, minutes=1))
    a = await settled(channel_to(app), case_a.case_id)
    b = await settled(channel_to(app), case_b.case_id)
    assert (a.held_minor, a.returned_minor) == (0, known["expect"]["A"])
    assert (b.held_minor, b.returned_minor) == (0, known["expect"]["B"])
    assert (world.balance(acct("A")), world.balance(acct("B"))) == (known["expect"]["A"], known["expect"]["B"])
    assert world.held(acct("M")) == 0
    assert (await the_hold(holds, case_a)).state == holds_pb2.HOLD_STATE_RETURNED
    on_m = await holds.ListHolds(holds_pb2.ListHoldsRequest(account=common_pb2.AccountRef(bank_code="BK", number=M)))
    assert [(h.case_id, h.state) for h in on_m.holds] == [(case_a.case_id, holds_pb2.HOLD_STATE_RETURNED)]
    b_events = [e["kind"] for e in await events_of(pool, case_b)]
    assert "return.planned" in b_events and "funds.returned" in b_events


async def test_the_hold_cli_takes_every_step_and_shows_the_figures(make_app, channel_to, pool, tmp_path) -> None:
    from tests.e2e.test_cli import stopay

    app, (case,) = await start(make_app, channel_to, one_victim(tmp_path))
    server = ("--server", f"127.0.0.1:{app.port}")
    officer = ("--officer", "O-1001", "--reason", "bank statement reviewed")

    shown = await stopay("case", "show", case.case_id, *server)
    assert f"hold BK:{M}  stopped until" in shown.stdout and "returned ¥0.00" in shown.stdout
    listed = await stopay("hold", "list", case.case_id, *server)
    assert listed.returncode == 0, listed.stderr
    assert "stopped" in listed.stdout and "¥1,000.00" in listed.stdout and "1/2" in listed.stdout

    renewed = await stopay(
        "hold", "renew", case.case_id, f"BK:{M}", *officer, "--request-id", "cli-1", "--json", *server
    )
    assert renewed.returncode == 0, renewed.stderr
    assert json.loads(renewed.stdout)["stops"] == 2
    again = await stopay("hold", "renew", case.case_id, f"BK:{M}", *officer, "--request-id", "cli-1", "--json", *server)
    assert json.loads(again.stdout)["stops"] == 2  # the same request, taken once

    bad = await stopay(
        "hold",
        "formalize",
        case.case_id,
        f"BK:{M}",
        *officer,
        "--document",
        "GA-9",
        "--approver",
        "Chief Wang",
        "--amount",
        "12.345",
        "--scope",
        "the account",
        *server,
    )
    assert bad.returncode == 2 and "two decimals" in bad.stderr
    frozen = await stopay(
        "hold",
        "formalize",
        case.case_id,
        f"BK:{M}",
        *officer,
        "--document",
        "GA-9",
        "--approver",
        "Chief Wang",
        "--amount",
        "1,000.00",
        "--scope",
        "the account",
        "--interest",
        *server,
    )
    assert frozen.returncode == 0, frozen.stderr
    assert "stopped" in frozen.stdout and "awaiting approval" in frozen.stdout
    assert "request id" in frozen.stderr  # printed, so the officer can retry safely
    approval_id = re.search(r"awaiting approval (\S+)", frozen.stdout)[1]
    supervisor = ("--officer", "S-7", "--reason", "document checked")
    own = await stopay("hold", "approve", approval_id, *officer, *server)
    assert own.returncode == 1 and "cannot approve" in own.stderr, own.stderr
    approved_ = await stopay("hold", "approve", approval_id, *supervisor, *server)
    assert approved_.returncode == 0, approved_.stderr
    assert "frozen" in approved_.stdout and "GA-9" in approved_.stdout and "approved by officer:S-7" in approved_.stdout
    refused = await stopay("hold", "renew", case.case_id, f"BK:{M}", *officer, *server)
    assert refused.returncode == 1 and "FAILED_PRECONDITION" in refused.stderr

    await eventually(lambda: _statuses(pool, case, "extend", ["extended", "extended"]))
    asked = await stopay("hold", "return", f"BK:{M}", *officer, *server)
    assert asked.returncode == 0, asked.stderr
    assert "direct: one victim" in asked.stdout and "¥1,000.00" in asked.stdout and "awaiting approval" in asked.stdout
    listed = await stopay("hold", "list", case.case_id, *server)
    approval_id = re.search(r"awaiting approval (\S+) \(return", listed.stdout)[1]
    returned = await stopay("hold", "approve", approval_id, *supervisor, *server)
    assert returned.returncode == 0, returned.stderr
    assert "direct: one victim" in returned.stdout and "¥1,000.00" in returned.stdout
    await settled(channel_to(app), case.case_id)
    trail = await stopay("audit", "case", case.case_id, *server)
    assert "returned ¥1,000.00" in trail.stdout


async def test_concurrent_steps_on_one_hold_are_taken_one_at_a_time(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    import asyncio

    from stopay.store import audit

    app, (case,) = await start(make_app, channel_to, one_victim(tmp_path))
    holds = holds_to(app)
    # Five officers renew at once, two of them resending one request: one renewal fits under the limit.
    same = by(request_id="same")
    calls = [holds.RenewStop(holds_pb2.RenewStopRequest(hold=ref(case), by=b)) for b in (same, same, by(), by(), by())]
    results = await asyncio.gather(*calls, return_exceptions=True)
    ok = [r for r in results if isinstance(r, holds_pb2.Hold)]
    failed = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert len(ok) + len(failed) == 5
    assert all(f.code() == grpc.StatusCode.FAILED_PRECONDITION for f in failed), [
        (f.code(), f.details()) for f in failed
    ]
    assert {h.stops for h in ok} == {2}
    assert (await the_hold(holds, case)).stops == 2
    assert len(await orders_of(pool, case, "extend")) == 1
    # A release and the approval of a formal freeze race: whichever comes second finds the hold moved on.
    asked = await holds.Formalize(
        holds_pb2.FormalizeRequest(hold=ref(case), by=by(), document=document("GA-1", 100_000))
    )
    race = await asyncio.gather(
        holds.ReleaseHold(holds_pb2.ReleaseHoldRequest(hold=ref(case), by=by())),
        approved(holds, asked),
        return_exceptions=True,
    )
    assert sum(isinstance(r, holds_pb2.Hold) for r in race) >= 1
    assert all(r.code() == grpc.StatusCode.FAILED_PRECONDITION for r in race if isinstance(r, grpc.aio.AioRpcError))
    assert (await the_hold(holds, case)).state in (holds_pb2.HOLD_STATE_RELEASED, holds_pb2.HOLD_STATE_FROZEN)
    report = await audit.verify(pool)
    assert report.ok, report.breaks


async def test_a_return_the_bank_refused_is_retried_by_an_operator(make_app, channel_to, holds_to, pool) -> None:
    from bank_adapters.protocol import BankRefused
    from stopay.v1 import operator_pb2, operator_pb2_grpc
    from tests.entries import simple_request
    from tests.fakebank import FakeBank

    bank = FakeBank({"FB"})
    refusals = []

    def refuse_once(request):  # type: ignore[no-untyped-def]
        if not refusals:
            refusals.append(request)
            raise BankRefused("beneficiary account format not supported")
        return FakeBank({"FB"}).on_return(request)

    bank.on_return = refuse_once
    app = await make_app(bank_adapters={"FB": bank}, limits=Limits("libr", 5, 0), dispatch=DispatchSettings(**FAST))
    stub = channel_to(app)
    reply = await stub.SubmitEntry(simple_request(("FB", "6222000011112222", 250_000)))
    case = await settled(stub, reply.case_id)
    hold_ref = holds_pb2.HoldRef(
        case_id=case.case_id, account=common_pb2.AccountRef(bank_code="FB", number="6222000011112222")
    )
    holds = holds_to(app)
    await formalized(holds, holds_pb2.FormalizeRequest(hold=hold_ref, by=by(), document=document("GA-7", 250_000)))
    await eventually(lambda: _statuses(pool, case, "extend", ["extended"]))
    await returned_funds(
        holds,
        holds_pb2.ReturnFundsRequest(account=common_pb2.AccountRef(bank_code="FB", number="6222000011112222"), by=by()),
    )
    await eventually(lambda: _statuses(pool, case, "return", ["undeliverable"]))
    (failed,) = await orders_of(pool, case, "return")
    hold = await the_hold(holds, case)
    assert (hold.state, hold.held_minor) == (
        holds_pb2.HOLD_STATE_RETURNING,
        250_000,
    )  # the money is still held, not lost

    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")
    try:
        retried = await operator_pb2_grpc.OperatorServiceStub(channel).RetryOrder(
            operator_pb2.RetryOrderRequest(order_id=str(failed["order_id"]), operator_id="ops-1")
        )
    finally:
        await channel.close()
    assert retried.case_id == case.case_id
    done = await settled(stub, case.case_id)
    assert (done.held_minor, done.returned_minor) == (0, 250_000)
    assert (await the_hold(holds, case)).state == holds_pb2.HOLD_STATE_RETURNED
    paid = [r for r in bank.requests if type(r).__name__ == "ReturnRequest"]
    assert len({r.idempotency_key for r in paid}) == 1  # the retry went under the same key
    assert paid[-1].beneficiary.number == "6229100000000001"  # the victim's paying account


async def test_a_formal_freeze_is_released_when_the_account_proves_unrelated(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    app, (case,) = await start(make_app, channel_to, one_victim(tmp_path))
    holds = holds_to(app)
    await formalized(holds, holds_pb2.FormalizeRequest(hold=ref(case), by=by(), document=document("GA-3", 100_000)))
    released = await holds.ReleaseHold(holds_pb2.ReleaseHoldRequest(hold=ref(case), by=by("payroll account")))
    assert (released.state, released.document.number, released.HasField("ended_at")) == (
        holds_pb2.HOLD_STATE_RELEASED,
        "GA-3",
        True,
    )
    done = await settled(channel_to(app), case.case_id)
    assert (done.held_minor, done.returned_minor) == (0, 0)
    assert app.adapters["BK"].world.held(acct("M")) == 0
    (event,) = [e for e in await events_of(pool, case) if e["kind"] == "hold.released"]
    assert (event["actor"], event["detail"]["reason"], event["detail"]["released_minor"]) == (
        "officer:O-1001",
        "payroll account",
        100_000,
    )


async def test_every_hold_of_a_case_lapses_even_when_they_expire_together(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    data = world_data(
        {"V": 100_000, "M": 0, "N": 0},
        [("V", "M", 60_000, "T1"), ("V", "N", 40_000, "T2")],
        [check("two mules", "libr", [["T1", "T2"]], {"M": 60_000, "N": 40_000}, min_amount=0)],
    )
    app, (case,) = await start(make_app, channel_to, _write(tmp_path, data))
    holds = holds_to(app)
    listed = (await holds.ListHolds(holds_pb2.ListHoldsRequest(case_id=case.case_id))).holds
    assert sorted(h.held_minor for h in listed) == [40_000, 60_000]
    # Held in one batch of answers, the two holds usually share their expiry to the microsecond.
    # Far from their expiry: the sweeper's warn step, even asked directly, warns of nothing.
    for h in listed:
        assert not await app.sweeper._steps.sweep(
            "warn", uuid.UUID(h.case_id), h.account.bank_code, h.account.number, "sweeper@test"
        )
    await set_clock(pool, timedelta(hours=49))

    async def both_lapsed() -> bool:
        now = (await holds.ListHolds(holds_pb2.ListHoldsRequest(case_id=case.case_id))).holds
        return [h.state for h in now] == [holds_pb2.HOLD_STATE_LAPSED, holds_pb2.HOLD_STATE_LAPSED]

    await eventually(both_lapsed)
    await eventually(lambda: _statuses(pool, case, "release", ["released", "released"]))
    world = app.adapters["BK"].world
    assert (world.held(acct("M")), world.held(acct("N"))) == (0, 0)


async def test_seed_xue_s_hold_is_formalized_and_returned_through_a_remote_bank(
    make_app, channel_to, holds_to, pool
) -> None:
    from google.protobuf import json_format

    from bank_adapters.simulated.scenario import load_scenario
    from stopay.banksim.server import serve
    from stopay.cli.scenario_entries import check_entries
    from tests.e2e.test_remote_bank import DOCUMENT, EPOCH, L1, SEED_XUE, VICTIM, XUE_BANKS

    sim, port = await serve(SEED_XUE, "127.0.0.1:0", None, epoch=EPOCH)
    try:
        app = await make_app(
            adapters=(("grpc", {"target": f"127.0.0.1:{port}", "banks": XUE_BANKS}),), dispatch=DispatchSettings(**FAST)
        )
        stub = channel_to(app)
        scenario = load_scenario(SEED_XUE)
        (data,) = check_entries(scenario, scenario.checks[0], EPOCH)
        reply = await stub.SubmitEntry(json_format.ParseDict(data, station_pb2.SubmitEntryRequest()))
        case = await settled(stub, reply.case_id)
        holds = holds_to(app)
        l1 = holds_pb2.HoldRef(
            case_id=case.case_id, account=common_pb2.AccountRef(bank_code=L1.bank_code, number=L1.number)
        )
        document_pb = holds_pb2.LegalDocument(
            number=DOCUMENT.number,
            approver=DOCUMENT.approver,
            amount_minor=35_000_000,
            scope=DOCUMENT.scope,
            interest_included=True,
        )
        frozen = await formalized(holds, holds_pb2.FormalizeRequest(hold=l1, by=by(), document=document_pb))
        await eventually(lambda: _statuses(pool, case, "extend", ["extended"]))
        world = sim.banks.world
        term = world.hold_until(L1.id)
        assert (term.until, term.change.value) == (at(frozen.expires_at), "FORMAL_FREEZE")
        victim_before = world.balance(VICTIM.id)
        returned = await returned_funds(
            holds,
            holds_pb2.ReturnFundsRequest(
                account=common_pb2.AccountRef(bank_code=L1.bank_code, number=L1.number), by=by()
            ),
        )
        assert returned.direct and returned.total_minor == 35_000_000
        done = await settled(stub, case.case_id)
        assert done.returned_minor == 35_000_000
        assert (world.held(L1.id), world.balance(VICTIM.id) - victim_before) == (0, 35_000_000)
    finally:
        await sim.stop(0)


async def test_an_extension_is_retried_only_while_its_hold_lasts(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    from stopay.domain.orders import RetryRefused
    from stopay.store import orders as store

    app, (case,) = await start(make_app, channel_to, one_victim(tmp_path))
    holds = holds_to(app)
    await app.dispatcher.stop(0)  # the extension stays with us
    await holds.RenewStop(holds_pb2.RenewStopRequest(hold=ref(case), by=by()))
    (extension,) = await orders_of(pool, case, "extend")
    await pool.execute(
        "UPDATE freeze_orders SET status = 'undeliverable', reason_code = 'NOAS', resolved_at = now()"
        " WHERE case_id = $1 AND order_id = $2",
        extension["case_id"],
        extension["order_id"],
    )
    await holds.ReleaseHold(holds_pb2.ReleaseHoldRequest(hold=ref(case), by=by("unrelated after all")))
    assert await store.retry(pool, extension["order_id"], "operator:ops-1") is RetryRefused.HOLD_ENDED
    assert len(await orders_of(pool, case, "extend")) == 1


async def test_a_return_waits_for_the_bank_s_confirmation_and_a_freeze_that_outlasts_the_notice(
    make_app, channel_to, holds_to, pool, tmp_path
) -> None:
    # A month is 28 to 31 days: a 32 days' notice outlasts one month's freeze and not two, on any date.
    policy = HoldPolicy(freeze_months=1, notice_days=32)
    app, (case_a, _) = await start(
        make_app, channel_to, two_victims(tmp_path), dispatch=DispatchSettings(**FAST), holds=policy
    )
    holds = holds_to(app)
    ret = holds_pb2.ReturnFundsRequest(account=common_pb2.AccountRef(bank_code="BK", number=M), by=by())
    await app.dispatcher.stop(0)  # the formal freeze is not at the bank yet
    await formalized(holds, holds_pb2.FormalizeRequest(hold=ref(case_a), by=by(), document=document("GA-1", 80_000)))
    await refused(holds.ReturnFunds(ret), grpc.StatusCode.FAILED_PRECONDITION, "has not confirmed")
    await app.dispatcher.start()
    await eventually(lambda: _statuses(pool, case_a, "extend", ["extended"]))
    # A month's freeze would lapse during the 32 days' notice of a rateable return.
    await refused(holds.ReturnFunds(ret), grpc.StatusCode.FAILED_PRECONDITION, "renew it first")
    await formalized(holds, holds_pb2.FormalizeRequest(hold=ref(case_a), by=by(), document=document("GA-2", 80_000)))
    await eventually(lambda: _statuses(pool, case_a, "extend", ["extended", "extended"]))
    started = await returned_funds(holds, ret)
    assert not started.direct and started.total_minor == 80_000
    # Two formal freezes and one return, each approved: the refused returns, sent under the same id, left
    # no trace.
    assert await pool.fetchval("SELECT count(*) FROM hold_requests WHERE action <> 'approve'") == 3
    assert await pool.fetchval("SELECT count(*) FROM hold_approvals WHERE status = 'approved'") == 3

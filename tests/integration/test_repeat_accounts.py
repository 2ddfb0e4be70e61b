"""Repeat mule accounts (docs/rules.md): two cases whose trails meet in one account M show each
other. Each case's chain records, once, that the other holds money at M (account.held_for_other_case,
the account masked); GetCase lists M among its shared accounts; ExportEvents filtered by that kind
is the center's alert stream; ListRepeatAccounts and ``stopay audit accounts`` list M with what
each case traced, holds and paid back there. The banks are the simulated ones; the statements are
held back case by case to pin the order of answers."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import grpc

from stopay.domain.accounts import mask_number
from stopay.domain.trail import Limits
from stopay.v1 import audit_pb2, audit_pb2_grpc, station_pb2, station_pb2_grpc
from tests.conftest import eventually
from tests.entries import scenario_requests
from tests.handmade import acct, check, world_data
from tests.identities import Pki
from tests.integration.test_stop_first import HeldStatements, case_of, held_at, write

A_PAID, B_PAID = 100000, 50000  # what each victim paid into M, and all that is at M


async def stopay(*args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "stopay.cli.main", *args], capture_output=True, text=True, timeout=120
    )


async def meet_in_m(app: Any, stub: Any, path: Path) -> tuple[str, str]:
    """Victim A pays 1000 into M, victim B 500; nothing leaves M. A's stop holds A's 1000 before B
    reports; B's stop then holds B's 500 where A holds money (B records A); A's statement comes in
    after that, where B holds money (A records B). Returns the two case ids once both settled."""
    held_back = HeldStatements(app.adapters["BK"])
    first, second = scenario_requests(app, path)
    a = (await stub.SubmitEntry(first)).case_id

    async def a_stopped() -> bool:
        return held_at(await case_of(stub, a), "M") == A_PAID

    await eventually(a_stopped)
    b = (await stub.SubmitEntry(second)).case_id

    async def b_stopped() -> bool:
        return held_at(await case_of(stub, b), "M") == B_PAID

    await eventually(b_stopped)
    held_back.let_through(a)
    held_back.let_through(b)

    async def both_settled() -> bool:
        case_a, case_b = await case_of(stub, a), await case_of(stub, b)
        return case_a.settled and case_b.settled

    await eventually(both_settled)
    return a, b


def world(tmp_path: Path) -> Path:
    moves = [("A", "M", A_PAID, "TA"), ("B", "M", B_PAID, "TB")]
    data = world_data(
        {"A": A_PAID, "B": B_PAID, "M": 0},
        moves,
        [check("two", "fifo", [["TA"], ["TB"]], {"M": A_PAID + B_PAID}, max_depth=1)],
    )
    return write(tmp_path, data)


async def test_two_cases_meeting_in_one_account_show_each_other(make_app, channel_to, pool, tmp_path: Path) -> None:
    path = world(tmp_path)
    app = await make_app(path, limits=Limits("fifo", 1, 0))
    stub = channel_to(app)
    audit = audit_pb2_grpc.AuditServiceStub(grpc.aio.insecure_channel(f"127.0.0.1:{app.port}"))
    a, b = await meet_in_m(app, stub, path)
    case_a, case_b = await case_of(stub, a), await case_of(stub, b)
    assert (held_at(case_a, "M"), held_at(case_b, "M")) == (A_PAID, B_PAID)

    # Each chain records the other case once, the account masked, with what the other held then.
    bank, number = acct("M").split(":")
    rows = await pool.fetch(
        "SELECT case_id, order_id, detail FROM case_events WHERE kind = 'account.held_for_other_case'"
        " ORDER BY case_id, chain_pos"
    )
    recorded = {str(r["case_id"]): r["detail"] for r in rows}
    assert len(rows) == 2 and set(recorded) == {a, b}
    assert recorded[b] == {
        "bank_code": bank,
        "account": mask_number(number),
        "others": [{"case_id": a, "held_minor": A_PAID}],
        "held_by_others_minor": A_PAID,
    }
    assert recorded[a]["others"] == [{"case_id": b, "held_minor": B_PAID}]
    assert number not in json.dumps(recorded)
    for r in rows:  # written with the answer of an order at M
        order = await pool.fetchrow(
            "SELECT bank_code, account_number FROM freeze_orders WHERE order_id = $1", r["order_id"]
        )
        assert (order["bank_code"], order["account_number"]) == (bank, number)
    assert (await audit.VerifyLog(audit_pb2.VerifyLogRequest())).ok

    # GetCase: each case names the other at M, with what it holds there.
    (shared_a,) = case_a.shared_accounts
    (shared_b,) = case_b.shared_accounts
    assert (shared_a.account.bank_code, shared_a.account.number) == (bank, number)
    assert (list(shared_a.other_case_ids), shared_a.held_by_others_minor) == ([b], B_PAID)
    assert (list(shared_b.other_case_ids), shared_b.held_by_others_minor) == ([a], A_PAID)

    # The alert stream: only the events of that kind.
    alerts = [
        e
        async for e in audit.ExportEvents(
            audit_pb2.ExportEventsRequest(kinds=[station_pb2.EVENT_KIND_ACCOUNT_HELD_FOR_OTHER_CASE])
        )
    ]
    assert sorted(e.case_id for e in alerts) == sorted([a, b])
    assert all("other case(s) hold" in e.summary for e in alerts)
    everything = [e async for e in audit.ExportEvents(audit_pb2.ExportEventsRequest())]
    assert len(everything) > len(alerts)

    # ListRepeatAccounts: M, seen in two cases, with what each traced, holds and paid back there.
    repeat = await audit.ListRepeatAccounts(audit_pb2.RepeatAccountsRequest())
    (account,) = repeat.accounts
    assert (account.account.bank_code, account.account.number, account.case_count) == (bank, number, 2)
    figures = {c.case_id: (c.traced_minor, c.held_minor, c.returned_minor, c.level) for c in account.cases}
    assert figures == {a: (A_PAID, held_at(case_a, "M"), 0, 1), b: (B_PAID, held_at(case_b, "M"), 0, 1)}
    assert [c.case_id for c in account.cases] == [a, b]  # oldest case first
    assert not (await audit.ListRepeatAccounts(audit_pb2.RepeatAccountsRequest(min_cases=3))).accounts
    try:
        await audit.ListRepeatAccounts(audit_pb2.RepeatAccountsRequest(min_cases=1))
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT and "min_cases" in (exc.details() or "")
    else:
        raise AssertionError("min_cases 1 was accepted")

    # The command line.
    server = f"127.0.0.1:{app.port}"
    listed = await stopay("audit", "accounts", "--cases", "2", "--json", "--server", server)
    assert listed.returncode == 0, listed.stderr
    (shown,) = json.loads(listed.stdout)["accounts"]
    assert [(c["case_id"], int(c["traced_minor"]), int(c["held_minor"])) for c in shown["cases"]] == [
        (a, A_PAID, A_PAID),
        (b, B_PAID, B_PAID),
    ]
    text = await stopay("audit", "accounts", "--server", server)
    assert text.returncode == 0, text.stderr
    assert f"{bank}:{number}" in text.stdout and a in text.stdout and "¥1,000.00" in text.stdout
    none = await stopay("audit", "accounts", "--cases", "3", "--server", server)
    assert none.returncode == 0 and "no account is on the trails of 3 cases or more" in none.stdout
    show = await stopay("case", "show", a, "--server", server)
    assert show.returncode == 0, show.stderr
    assert f"account {bank}:{number} is shared: ¥500.00 held there for case(s) {b}" in show.stdout
    export = await stopay("audit", "export", "--kind", "account.held_for_other_case", "--server", server)
    assert export.returncode == 0, export.stderr
    lines = [json.loads(line) for line in export.stdout.splitlines()]
    assert sorted(line["case_id"] for line in lines) == sorted([a, b])
    assert {line["kind"] for line in lines} == {"account.held_for_other_case"}
    assert uuid.UUID(lines[0]["case_id"])


async def test_the_center_follows_the_alerts_and_lists_repeat_accounts_only(make_app, pki: Pki, tmp_path: Path) -> None:
    path = world(tmp_path)
    app = await make_app(path, limits=Limits("fifo", 1, 0), tls=pki.server)
    station = station_pb2_grpc.StationServiceStub(pki.as_(app.port, "station", "DEMO-STATION"))
    a, b = await meet_in_m(app, station, path)
    center = audit_pb2_grpc.AuditServiceStub(pki.as_(app.port, "center", "c-1"))

    # No kind named: the alerts only, of every case.
    alerts = [e async for e in center.ExportEvents(audit_pb2.ExportEventsRequest())]
    assert sorted(e.case_id for e in alerts) == sorted([a, b])
    assert {e.kind for e in alerts} == {station_pb2.EVENT_KIND_ACCOUNT_HELD_FOR_OTHER_CASE}
    # Any other kind is refused, and nothing is read.
    try:
        async for _ in center.ExportEvents(audit_pb2.ExportEventsRequest(kinds=[station_pb2.EVENT_KIND_CASE_ACCEPTED])):
            raise AssertionError("an event of another kind reached the center")
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "account.held_for_other_case" in (exc.details() or "")
    else:
        raise AssertionError("the center exported case.accepted events")
    (account,) = (await center.ListRepeatAccounts(audit_pb2.RepeatAccountsRequest(min_cases=2))).accounts
    assert [c.case_id for c in account.cases] == [a, b]
    # The auditor reads every kind.
    auditor = audit_pb2_grpc.AuditServiceStub(pki.as_(app.port, "auditor", "au-1"))
    kinds = {e.kind async for e in auditor.ExportEvents(audit_pb2.ExportEventsRequest())}
    assert station_pb2.EVENT_KIND_CASE_ACCEPTED in kinds


async def test_an_order_that_finds_the_money_held_for_another_case_names_it(
    make_app, channel_to, tmp_path: Path
) -> None:
    # DOMAIN.md's worked example (tests/integration/test_stop_first.py): A's stop holds all 800 at
    # M, B's 200 among it; B's stop then finds nothing free there, and says that case A holds it.
    moves = [
        ("A", "M", 100000, "TA"),
        ("B", "M", 50000, "TB"),
        ("O", "M", 30000, "TO1"),
        ("M", "N1", 80000, "TN1"),
        ("M", "N2", 60000, "TN2"),
        ("O", "M", 20000, "TO2"),
    ]
    opening = {"A": 100000, "B": 50000, "O": 50000, "M": 20000, "N1": 0, "N2": 0}
    path = write(tmp_path, world_data(opening, moves, [check("two", "libr", [["TA"], ["TB"]], {"M": 80000}, 1)]))
    app = await make_app(path, limits=Limits("libr", 1, 0))
    held_back = HeldStatements(app.adapters["BK"])
    stub = channel_to(app)
    first, second = scenario_requests(app, path)
    a = (await stub.SubmitEntry(first)).case_id

    async def a_stopped() -> bool:
        return held_at(await case_of(stub, a), "M") == 80000

    await eventually(a_stopped)
    b = (await stub.SubmitEntry(second)).case_id

    async def b_stop_answered() -> bool:
        case = await case_of(stub, b)
        stops = [o for o in case.orders if o.kind == station_pb2.ORDER_KIND_STOP]
        return bool(stops) and all(o.status != station_pb2.ORDER_STATUS_QUEUED for o in stops)

    await eventually(b_stop_answered)
    case_b = await case_of(stub, b)
    (stop,) = [o for o in case_b.orders if o.kind == station_pb2.ORDER_KIND_STOP]
    assert stop.held_minor == 0
    assert f"money here is held for case(s) {a}" in stop.detail
    (shared,) = case_b.shared_accounts
    assert (list(shared.other_case_ids), shared.held_by_others_minor) == ([a], 80000)
    # A holds alone: its orders name no other case.
    case_a = await case_of(stub, a)
    assert not case_a.shared_accounts
    assert all("held for case" not in o.detail for o in case_a.orders)
    held_back.let_through(a)
    held_back.let_through(b)

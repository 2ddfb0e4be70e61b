"""Searching cases (docs/rules.md, Search): every ListCases filter alone and together, pages of a
search without loss or duplicates, the period's bounds, open and settled cases, the caller's scope,
and `stopay case list` following its own next-page hints."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from bank_adapters.protocol import (
    Account,
    AnswerStatus,
    FreezeAnswer,
    Statement,
    StatementAnswer,
    StatementLine,
    StatementRequest,
)
from stopay.dispatch.dispatcher import DispatchSettings
from stopay.store.queries import query
from stopay.v1 import common_pb2, station_pb2, station_pb2_grpc
from tests.conftest import eventually
from tests.entries import confirm, simple_request
from tests.fakebank import FakeBank
from tests.identities import Pki

FAST = DispatchSettings(poll_s=0.1, retry_base_s=0.05, retry_cap_s=0.3, pending_recheck_s=60.0)
OPEN, SETTLED = station_pb2.CASE_STATUS_OPEN, station_pb2.CASE_STATUS_SETTLED
# The account whose statement shows the money paid on to LEVEL_TWO, the trail's second level.
PAYS_ON, LEVEL_TWO = "6222000000000006", "6222000000000099"


@dataclass(frozen=True)
class Made:
    """A case as the test made it, to tell which searches must find it."""

    station: str
    report_no: str
    victim: str
    accounts: tuple[tuple[str, str], ...]
    open: bool
    case_id: str = ""
    created_at: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


PLAN = [
    Made("S-A", "R-1", "张三", (("CBK", "6222000000000001"),), open=False),
    Made("S-A", "R-2", "张三丰", (("SLOW", "6222000000000002"),), open=True),
    Made("S-B", "R-1", "李四", (("CBK", "6222000000000001"),), open=False),
    # The same number at another bank is another account.
    Made("S-A", "R-3", "王五", (("CBK", "6222000000000003"), ("SLOW", "6222000000000001")), open=True),
    Made("S-B", "R-4", "张三", (("CBK", "6222000000000004"),), open=False),
    Made("S-A", "R-1", "张三", (("CBK", "6222000000000005"),), open=False),
    # Its money went on to LEVEL_TWO: an order there, at level 2.
    Made("S-A", "R-5", "赵六", (("CBK", PAYS_ON), ("CBK", LEVEL_TWO)), open=False),
]


def pays_on(request: StatementRequest) -> StatementAnswer:
    """CBK's statements: PAYS_ON paid everything on to LEVEL_TWO a minute after it came in."""
    plain = FakeBank.plain_statement(request)
    if request.account.number != PAYS_ON:
        return plain
    assert plain.statement is not None
    first = plain.statement.lines[0]
    debit = StatementLine(
        seq=len(plain.statement.lines),
        at=first.at + timedelta(minutes=1),
        kind="debit",
        amount_minor=sum(line.amount_minor for line in plain.statement.lines),
        txn_id="ONWARD-1",
        counterparty=Account("CBK", LEVEL_TWO, "下家"),
    )
    return StatementAnswer(AnswerStatus.ACCR, statement=Statement(0, (*plain.statement.lines, debit)), balance_minor=0)


def banks() -> dict[str, FakeBank]:
    cbk, slow = FakeBank({"CBK"}), FakeBank({"SLOW"})
    cbk.on_statement = pays_on
    slow.on_freeze = lambda r: FreezeAnswer(AnswerStatus.PDCR)  # pending: the order stays open
    return {"CBK": cbk, "SLOW": slow}


def entry(made: Made, station_id: str | None = None) -> station_pb2.SubmitEntryRequest:
    payees = [(bank, number, 10_000) for bank, number in made.accounts if number != LEVEL_TWO]
    request = simple_request(*payees)
    request.station_id = made.station if station_id is None else station_id
    request.report_no = made.report_no
    request.victim.name = made.victim
    for transfer in request.transfers:  # each case its own transfers: none links to another case
        transfer.txn_id = f"T-{uuid.uuid4()}"
    return confirm(request)


async def make_cases(stub: station_pb2_grpc.StationServiceStub, pool) -> list[Made]:
    made = []
    for plan in PLAN:
        case_id = (await stub.SubmitEntry(entry(plan))).case_id
        created_at = await pool.fetchval("SELECT created_at FROM cases WHERE case_id = $1::uuid", case_id)
        made.append(Made(**{**plan.__dict__, "case_id": case_id, "created_at": created_at}))

    async def in_their_states() -> bool:
        for m in made:
            case = await stub.GetCase(station_pb2.GetCaseRequest(case_id=m.case_id))
            if m.open:
                # Open for good: the SLOW order is pending and will not be asked again within the test.
                if not any(o.status == station_pb2.ORDER_STATUS_PENDING for o in case.orders):
                    return False
            elif not case.settled:
                return False
            seen = {(o.account.bank_code, o.account.number) for o in case.orders}
            if not set(m.accounts) <= seen:
                return False
        return True

    await eventually(in_their_states, timeout_s=30)
    return made


async def listed(stub: station_pb2_grpc.StationServiceStub, page_size: int = 0, **filters: Any) -> list[str]:
    """Every case the search finds, page by page."""
    ids: list[str] = []
    token = ""
    while True:
        page = await stub.ListCases(station_pb2.ListCasesRequest(page_size=page_size, page_token=token, **filters))
        assert len(page.cases) <= (page_size or 50)
        ids += [c.case_id for c in page.cases]
        token = page.next_page_token
        if not token:
            return ids


def stamp(at: Any, nanos_more: int = 0) -> Timestamp:
    value = Timestamp()
    value.FromDatetime(at)
    value.nanos += nanos_more
    return value


async def violations(call: Any) -> list[str]:
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await call
    assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT, failed.value.details()
    status = rpc_status.from_call(failed.value)
    fields = []
    for detail in status.details if status else ():
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            fields += [v.field for v in bad.field_violations]
    return fields


async def test_each_filter_alone_and_together_pages_without_loss(make_app, channel_to, pool) -> None:
    app = await make_app(bank_adapters=banks(), dispatch=FAST)
    stub = channel_to(app)
    made = await make_cases(stub, pool)
    newest_first = await listed(stub)
    assert sorted(newest_first) == sorted(m.case_id for m in made)
    by_id = {m.case_id: m for m in made}

    def expect(keep: Callable[[Made], bool]) -> list[str]:
        return [i for i in newest_first if keep(by_id[i])]

    at = [m.created_at for m in made]
    searches: list[tuple[dict[str, Any], Callable[[Made], bool]]] = [
        ({"station_id": "S-B"}, lambda m: m.station == "S-B"),
        ({"report_no": "R-1"}, lambda m: m.report_no == "R-1"),
        ({"report_no": "R-"}, lambda m: False),  # exact, not a prefix
        ({"victim_name": "张三"}, lambda m: m.victim.startswith("张三")),  # 张三 and 张三丰
        ({"victim_name": "张"}, lambda m: m.victim.startswith("张")),
        ({"victim_name": "张三丰"}, lambda m: m.victim == "张三丰"),
        ({"victim_name": "三"}, lambda m: False),  # a prefix, not a part
        (
            {"account": common_pb2.AccountRef(bank_code="CBK", number="6222000000000001")},
            lambda m: ("CBK", "6222000000000001") in m.accounts,
        ),
        (
            {"account": common_pb2.AccountRef(bank_code="SLOW", number="6222000000000001")},
            lambda m: ("SLOW", "6222000000000001") in m.accounts,
        ),
        (  # at level 2 of the trail
            {"account": common_pb2.AccountRef(bank_code="CBK", number=LEVEL_TWO)},
            lambda m: ("CBK", LEVEL_TWO) in m.accounts,
        ),
        ({"account": common_pb2.AccountRef(bank_code="CBK", number="6222999999999999")}, lambda m: False),
        ({"status": OPEN}, lambda m: m.open),
        ({"status": SETTLED}, lambda m: not m.open),
        # [from, until): from the case made third, up to (without) the one made fifth.
        ({"created_from": stamp(at[2]), "created_until": stamp(at[4])}, lambda m: at[2] <= m.created_at < at[4]),
        ({"created_from": stamp(at[2])}, lambda m: m.created_at >= at[2]),
        ({"created_until": stamp(at[2])}, lambda m: m.created_at < at[2]),
        # A bound between two microseconds: the case at the microsecond before `until` is in, the
        # case at the microsecond before `from` is out.
        (
            {"created_from": stamp(at[2], 500), "created_until": stamp(at[4], 500)},
            lambda m: at[2] < m.created_at <= at[4],
        ),
        (
            {"station_id": "S-A", "victim_name": "张三", "status": SETTLED},
            lambda m: m.station == "S-A" and m.victim.startswith("张三") and not m.open,
        ),
        (
            {"report_no": "R-1", "account": common_pb2.AccountRef(bank_code="CBK", number="6222000000000001")},
            lambda m: m.report_no == "R-1" and ("CBK", "6222000000000001") in m.accounts,
        ),
        (
            {"station_id": "S-A", "status": OPEN, "created_from": stamp(at[1]), "created_until": stamp(at[6])},
            lambda m: m.station == "S-A" and m.open and at[1] <= m.created_at < at[6],
        ),
        ({"station_id": "S-B", "status": OPEN}, lambda m: False),
    ]
    for filters, keep in searches:
        expected = expect(keep)
        assert await listed(stub, **filters) == expected, filters
        for size in (1, 2):
            assert await listed(stub, page_size=size, **filters) == expected, (filters, size)
    # Every filter is exercised by a search that finds some cases and leaves others out.
    assert all(0 < len(expect(keep)) < len(made) for _, keep in searches[:2] + searches[3:5] + searches[7:10])
    assert 0 < len(expect(searches[-3][1])) < len(expect(lambda m: m.station == "S-A"))

    # A token is good only with the filters it was given out with.
    page = await stub.ListCases(station_pb2.ListCasesRequest(report_no="R-1", page_size=1))
    assert page.next_page_token
    other = station_pb2.ListCasesRequest(report_no="R-2", page_size=1, page_token=page.next_page_token)
    assert await violations(stub.ListCases(other)) == ["page_token"]
    unfiltered = station_pb2.ListCasesRequest(page_size=1, page_token=page.next_page_token)
    assert await violations(stub.ListCases(unfiltered)) == ["page_token"]
    first = await stub.ListCases(station_pb2.ListCasesRequest(page_size=1))
    with_filter = station_pb2.ListCasesRequest(status=OPEN, page_size=1, page_token=first.next_page_token)
    assert await violations(stub.ListCases(with_filter)) == ["page_token"]


async def test_bad_filters_are_refused_naming_each_field(make_app, channel_to) -> None:
    stub = channel_to(await make_app())
    request = station_pb2.ListCasesRequest(
        report_no="R\x00",
        victim_name="张" * 101,
        account=common_pb2.AccountRef(bank_code="cbk", number="12"),
        created_from=Timestamp(seconds=1_800_000_000),
        created_until=Timestamp(seconds=1_700_000_000),
        status=7,  # type: ignore[arg-type]
        page_size=501,
    )
    assert await violations(stub.ListCases(request)) == [
        "report_no",
        "victim_name",
        "account.bank_code",
        "account.number",
        "created_until",
        "status",
        "page_size",
    ]
    out_of_range = station_pb2.ListCasesRequest(
        created_from=Timestamp(seconds=-62135596801), created_until=Timestamp(seconds=1, nanos=10**9)
    )
    assert await violations(stub.ListCases(out_of_range)) == ["created_from", "created_until"]
    assert await violations(stub.ListCases(station_pb2.ListCasesRequest(account=common_pb2.AccountRef()))) == [
        "account.bank_code",
        "account.number",
    ]


async def test_a_station_searches_its_own_cases_and_a_center_its_region(make_app, pki: Pki) -> None:
    app = await make_app(tls=pki.server, bank_adapters=banks(), dispatch=FAST, regions={"cq-yuzhong": ("CQ-YUZHONG",)})
    yuzhong = station_pb2_grpc.StationServiceStub(pki.as_(app.port, "station", "CQ-YUZHONG-01"))
    jiangbei = station_pb2_grpc.StationServiceStub(pki.as_(app.port, "station", "CQ-JIANGBEI-02"))
    center = station_pb2_grpc.StationServiceStub(pki.as_(app.port, "center", "cq-yuzhong"))
    shared = Made("", "R-9", "张三", (("CBK", "6222000000000001"),), open=False)
    mine = [(await yuzhong.SubmitEntry(entry(shared, ""))).case_id for _ in range(3)]
    theirs = (await jiangbei.SubmitEntry(entry(shared, ""))).case_id
    for filters in (
        {"report_no": "R-9"},
        {"victim_name": "张"},
        {"account": common_pb2.AccountRef(bank_code="CBK", number="6222000000000001")},
    ):
        # The station's id, filled in from its certificate, is one of the filters its tokens carry.
        assert sorted(await listed(yuzhong, page_size=1, **filters)) == sorted(mine)
        assert await listed(jiangbei, page_size=1, **filters) == [theirs]
        assert sorted(await listed(center, page_size=2, **filters)) == sorted(mine)
    assert await listed(center, station_id="CQ-JIANGBEI-02") == []


async def stopay(*args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "stopay.cli.main", *args], capture_output=True, text=True, timeout=120
    )


async def test_case_list_follows_its_next_page_hints(make_app, channel_to, pool) -> None:
    app = await make_app(bank_adapters=banks(), dispatch=FAST)
    stub = channel_to(app)
    made = await make_cases(stub, pool)
    server = ("--server", f"127.0.0.1:{app.port}")
    expected = await listed(stub, victim_name="张三", status=SETTLED)
    assert len(expected) == 3
    since = (made[0].created_at - timedelta(seconds=1)).isoformat()
    flags = ["--victim", "张三", "--status", "settled", "--since", since, "--limit", "1"]
    shown: list[str] = []
    pages = 0
    while True:
        result = await stopay("case", "list", *flags, *server)
        assert result.returncode == 0, result.stderr
        pages += 1
        shown += [line.split()[0] for line in result.stdout.splitlines() if line[:36] in expected]
        hint = re.search(r"^next page: (.+)$", result.stdout, re.MULTILINE)
        if hint is None:
            break
        flags = shlex.split(hint.group(1))
        assert flags[flags.index("--victim") + 1] == "张三" and flags[flags.index("--status") + 1] == "settled"
        assert pages < 5
    assert shown == expected and pages == 3
    account = await stopay("case", "list", "--account", f"CBK:{LEVEL_TWO}", "--json", *server)
    assert account.returncode == 0, account.stderr
    assert [m.case_id for m in made if ("CBK", LEVEL_TWO) in m.accounts][0] in account.stdout
    refused = await stopay("case", "list", "--account", "CBK:12", *server)
    assert refused.returncode != 0 and "account.number" in refused.stdout + refused.stderr


async def test_an_index_serves_the_account_search(pool) -> None:
    """freeze_orders_by_account (migration 0021) answers which cases have an order at an account;
    without it the search could only read every order (or every case's orders, by case_id)."""
    q = query("list_cases")
    args = {name: None for name in q.params} | {
        "bank_code": "CBK",
        "account_number": "6222000000000001",
        "limit": 51,
    }
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")  # a young table's statistics favour a scan
        plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {q.text}", *q.bind(args))
    assert "freeze_orders_by_account" in json.dumps(plan)

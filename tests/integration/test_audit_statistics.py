"""The report's statistics (docs/audit.md, "Statistics"): cases of several fraud types and stations,
reported over months of two years, held by a scripted bank (in full, in half, or not at all). The
expected groups are worked out here in plain Python from what was submitted and what the banks
answered (the orders' held amounts and times), never by the report's SQL. The transfer times are
fixed dates in the past, so the outcome does not depend on the day the test runs."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
import math
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import grpc
import pytest

from bank_adapters.protocol import (
    AnswerStatus,
    ExitKind,
    FreezeAnswer,
    FreezeRequest,
    StatementAnswer,
    StatementLine,
    StatementRequest,
)
from stopay.dispatch.dispatcher import DispatchSettings
from stopay.v1 import audit_pb2, audit_pb2_grpc, station_pb2
from tests.conftest import eventually
from tests.entries import confirm, simple_request
from tests.fakebank import FakeBank

CHINA = timezone(timedelta(hours=8))
FAST = dict(poll_s=0.1, retry_base_s=0.05, retry_cap_s=0.3, pending_recheck_s=0.2)
FIELDS = (
    "cases",
    "reported_minor",
    "stopped_minor",
    "frozen_minor",
    "returned_minor",
    "exited_minor",
    "held_cases",
    "report_to_hold_p50_ms",
    "report_to_hold_p95_ms",
    "report_to_hold_p99_ms",
)


@dataclass(frozen=True)
class Submitted:
    station: str
    fraud_type: int
    times: tuple[datetime, ...]  # of its transfers, in UTC
    amounts: tuple[int, ...]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# Accounts ending in 5 hold half of what is asked, in 9 nothing; the others all. Accounts ending in
# 7 show the victim's money partly gone to an ATM (EXIT_AT of it).
EXIT_AT = 200000
CASES = [
    Submitted("ST-A", station_pb2.FRAUD_TYPE_INVESTMENT, (_at("2024-01-10T09:00:00+08:00"),), (500000,)),
    Submitted("ST-B", station_pb2.FRAUD_TYPE_LOAN, (_at("2024-01-20T09:00:00+08:00"),), (120000,)),
    Submitted("ST-A", station_pb2.FRAUD_TYPE_ROMANCE, (_at("2024-03-05T12:00:00+08:00"),), (300000,)),
    Submitted(
        "ST-B",
        station_pb2.FRAUD_TYPE_INVESTMENT,
        (_at("2024-04-02T08:00:00+08:00"), _at("2024-03-31T23:30:00+08:00")),
        (80000, 70000),
    ),
    Submitted("ST-A", station_pb2.FRAUD_TYPE_INVESTMENT, (_at("2025-01-15T10:00:00+08:00"),), (900000,)),
    # 2025-02-01 02:00 in China, still January in UTC.
    Submitted("ST-A", station_pb2.FRAUD_TYPE_LOAN, (_at("2025-01-31T18:00:00+00:00"),), (210000,)),
    Submitted("ST-B", station_pb2.FRAUD_TYPE_ROMANCE, (_at("2025-02-14T20:00:00+08:00"),), (66000,)),
    Submitted("ST-B", station_pb2.FRAUD_TYPE_INVESTMENT, (_at("2025-03-03T09:00:00+08:00"),), (150000,)),
    Submitted("ST-A", station_pb2.FRAUD_TYPE_ROMANCE, (_at("2025-03-20T09:00:00+08:00"),), (40000,)),
    Submitted("ST-C", station_pb2.FRAUD_TYPE_LOAN, (_at("2025-04-08T09:00:00+08:00"),), (330000,)),
]


def account(n: int, t: int) -> str:
    tail = {1: "5", 4: "7", 6: "9", 8: "5", 9: "7"}.get(n, "1")
    return f"62220202{n:04d}{t:03d}{tail}"


def request_of(n: int, case: Submitted) -> station_pb2.SubmitEntryRequest:
    request = simple_request(*[("RBK", account(n, t), amount) for t, amount in enumerate(case.amounts)])
    request.station_id = case.station
    request.fraud_type = case.fraud_type  # type: ignore[assignment]
    for t, (transfer, at) in enumerate(zip(request.transfers, case.times, strict=True)):
        transfer.txn_id = f"STAT-{n}-{t}"
        transfer.transferred_at.FromDatetime(at)
    return confirm(request)


def bank() -> FakeBank:
    fake = FakeBank({"RBK"})

    def freeze(request: FreezeRequest) -> FreezeAnswer:
        if request.account.number.endswith("9"):
            return FreezeAnswer(AnswerStatus.RJCR, reason_code="NO_FUNDS")
        if request.account.number.endswith("5"):
            return FreezeAnswer(AnswerStatus.PECR, held_minor=request.amount_minor // 2)
        return FreezeAnswer(AnswerStatus.ACCR, held_minor=request.amount_minor)

    def statement(request: StatementRequest) -> StatementAnswer:
        answer = FakeBank.plain_statement(request)
        if not request.account.number.endswith("7") or answer.statement is None:
            return answer
        credit = answer.statement.lines[0]
        atm = StatementLine(seq=1, at=credit.at, kind="debit", amount_minor=EXIT_AT, txn_id="ATM-1", exit=ExitKind.ATM)
        return dataclasses.replace(
            answer,
            balance_minor=(answer.balance_minor or 0) - EXIT_AT,
            statement=dataclasses.replace(answer.statement, lines=(credit, atm)),
        )

    fake.on_freeze = freeze
    fake.on_statement = statement
    return fake


def exited(n: int, case: Submitted) -> int:
    """What the scripted bank showed leaving by ATM from the case's accounts."""
    return sum(EXIT_AT for t in range(len(case.amounts)) if account(n, t).endswith("7"))


@dataclass
class Case:
    number: int  # its place in CASES
    submitted: Submitted
    case_id: uuid.UUID
    stopped: int = 0
    frozen: int = 0
    first_hold: datetime | None = None

    @property
    def reported_at(self) -> datetime:
        return min(self.submitted.times)

    def key(self, by: str, offset: timezone, shift_years: int = 0) -> str:
        if by == "fraud_type":
            return station_pb2.FraudType.Name(self.submitted.fraud_type)  # type: ignore[arg-type]
        if by == "station":
            return self.submitted.station
        if by == "month":
            local = self.reported_at.astimezone(offset)
            return f"{local.year + shift_years:04d}-{local.month:02d}"
        return "all"


def disc(values: list[int], fraction: float) -> int:
    """percentile_disc: the first value whose position in order reaches the fraction."""
    if not values:
        return 0
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)), 1) - 1]


def expected(
    cases: list[Case], since: datetime, until: datetime, by: str, offset: timezone, shift_years: int = 0
) -> dict[str, dict[str, int]]:
    groups: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        if since <= case.reported_at < until:
            groups[case.key(by, offset, shift_years)].append(case)
    out = {}
    for key, members in groups.items():
        times = [
            (c.first_hold - c.reported_at) // timedelta(milliseconds=1) for c in members if c.first_hold is not None
        ]
        out[key] = {
            "cases": len(members),
            "reported_minor": sum(sum(c.submitted.amounts) for c in members),
            "stopped_minor": sum(c.stopped for c in members),
            "frozen_minor": sum(c.frozen for c in members),
            "returned_minor": 0,
            "exited_minor": sum(exited(c.number, c.submitted) for c in members),
            "held_cases": len(times),
            "report_to_hold_p50_ms": disc(times, 0.5),
            "report_to_hold_p95_ms": disc(times, 0.95),
            "report_to_hold_p99_ms": disc(times, 0.99),
        }
    return out


def figures(f: audit_pb2.ReportFigures) -> dict[str, int]:
    return {name: int(getattr(f, name)) for name in FIELDS}


async def stopay(*args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "stopay.cli.main", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture
async def world(make_app, channel_to, pool) -> dict[str, Any]:
    fake = bank()
    app = await make_app(bank_adapters={"RBK": fake}, dispatch=DispatchSettings(**FAST))
    stub = channel_to(app)
    cases = []
    for n, submitted in enumerate(CASES):
        reply = await stub.SubmitEntry(request_of(n, submitted))
        cases.append(Case(n, submitted, uuid.UUID(reply.case_id)))

    async def all_answered() -> bool:
        open_orders = await pool.fetchval(
            "SELECT count(*) FROM freeze_orders WHERE case_id = ANY($1::uuid[]) AND freeze_order_open(status)",
            [c.case_id for c in cases],
        )
        return open_orders == 0

    await eventually(all_answered, timeout_s=60)
    # What the banks answered, as the orders recorded it: held amounts and when.
    for case in cases:
        for row in await pool.fetch(
            "SELECT kind, held_minor, resolved_at FROM freeze_orders WHERE case_id = $1 AND kind IN ('freeze', 'stop')",
            case.case_id,
        ):
            case.frozen += row["held_minor"]
            if row["kind"] == "stop":
                case.stopped += row["held_minor"]
            if row["held_minor"] > 0 and (case.first_hold is None or row["resolved_at"] < case.first_hold):
                case.first_hold = row["resolved_at"]
    # The scripted bank held what it said: its answers to the stops add up to what the stops hold.
    answers = {r.idempotency_key: fake.on_freeze(r).held_minor for r in fake.requests if isinstance(r, FreezeRequest)}
    assert sum(c.stopped for c in cases) == sum(held for key, held in answers.items() if key.endswith("/stop"))
    assert sum(c.frozen for c in cases) == sum(answers.values()) > 0
    assert any(c.first_hold is None for c in cases)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")
    yield {"app": app, "cases": cases, "audit": audit_pb2_grpc.AuditServiceStub(channel)}
    await channel.close()


SINCE = datetime(2024, 1, 1, tzinfo=CHINA)
UNTIL = datetime(2025, 6, 1, tzinfo=CHINA)
GROUPINGS = {
    "none": audit_pb2.REPORT_GROUPING_UNSPECIFIED,
    "fraud_type": audit_pb2.REPORT_GROUPING_FRAUD_TYPE,
    "station": audit_pb2.REPORT_GROUPING_STATION,
    "month": audit_pb2.REPORT_GROUPING_MONTH,
}


def request(since: datetime, until: datetime, by: str, offset_minutes: int, compare: bool = False):
    r = audit_pb2.ReportRequest(
        group_by=GROUPINGS[by], utc_offset_minutes=offset_minutes, compare_previous_year=compare
    )
    r.since.FromDatetime(since.astimezone(UTC))
    r.until.FromDatetime(until.astimezone(UTC))
    return r


async def test_each_grouping_gives_the_figures_worked_out_from_the_cases(world) -> None:
    cases, audit = world["cases"], world["audit"]
    for by in GROUPINGS:
        for offset in (480, 0):
            report = await audit.GetReport(request(SINCE, UNTIL, by, offset))
            got = {g.key: figures(g.figures) for g in report.groups}
            want = expected(cases, SINCE, UNTIL, by, timezone(timedelta(minutes=offset)))
            assert got == want, (by, offset)
            assert [g.key for g in report.groups] == sorted(want)
            assert not any(g.HasField("previous_year") for g in report.groups)
    by_month = await audit.GetReport(request(SINCE, UNTIL, "month", 480))
    # The case of 2025-01-31 18:00 UTC is February's in China and January's in UTC.
    assert {g.key: g.figures.cases for g in by_month.groups}["2025-02"] == 2
    utc = await audit.GetReport(request(SINCE, UNTIL, "month", 0))
    assert {g.key: g.figures.cases for g in utc.groups}["2025-02"] == 1
    # A case with two transfers counts from its earliest: March 2024 in China, not April.
    assert {g.key: g.figures.cases for g in by_month.groups}["2024-03"] == 2
    (everything,) = (await audit.GetReport(request(SINCE, UNTIL, "none", 480))).groups
    assert everything.key == "all" and everything.figures.cases == len(CASES)
    assert 0 < everything.figures.held_cases < len(CASES)
    assert everything.figures.exited_minor == 2 * EXIT_AT
    assert 0 < everything.figures.stopped_minor <= everything.figures.frozen_minor < everything.figures.reported_minor


async def test_compare_with_the_previous_year(world) -> None:
    cases, audit = world["cases"], world["audit"]
    since, until = datetime(2025, 1, 1, tzinfo=CHINA), datetime(2025, 5, 1, tzinfo=CHINA)
    before_since, before_until = datetime(2024, 1, 1, tzinfo=CHINA), datetime(2024, 5, 1, tzinfo=CHINA)
    for by in GROUPINGS:
        report = await audit.GetReport(request(since, until, by, 480, compare=True))
        now = expected(cases, since, until, by, CHINA)
        before = expected(cases, before_since, before_until, by, CHINA, shift_years=1)
        zero = dict.fromkeys(FIELDS, 0)
        assert [g.key for g in report.groups] == sorted(now.keys() | before.keys()), by
        for g in report.groups:
            assert figures(g.figures) == now.get(g.key, zero), (by, g.key)
            assert figures(g.previous_year) == before.get(g.key, zero), (by, g.key)
    months = await audit.GetReport(request(since, until, "month", 480, compare=True))
    january = {g.key: g for g in months.groups}["2025-01"]
    assert january.figures.cases == 1 and january.previous_year.cases == 2


async def test_the_cli_writes_the_groups_as_json_csv_a_table_and_a_picture(world, tmp_path: Path) -> None:
    cases, app = world["cases"], world["app"]
    server = f"127.0.0.1:{app.port}"
    period = ("--since", "2025-01-01T00:00:00+08:00", "--until", "2025-05-01T00:00:00+08:00")
    now = expected(cases, datetime(2025, 1, 1, tzinfo=CHINA), datetime(2025, 5, 1, tzinfo=CHINA), "month", CHINA)
    before = expected(
        cases, datetime(2024, 1, 1, tzinfo=CHINA), datetime(2024, 5, 1, tzinfo=CHINA), "month", CHINA, shift_years=1
    )
    zero = dict.fromkeys(FIELDS, 0)
    keys = sorted(now.keys() | before.keys())

    compare = ("--by", "month", "--compare", "previous-year")
    out = await stopay("audit", "report", *period, *compare, "--format", "json", "--server", server)
    assert out.returncode == 0, out.stderr
    document = json.loads(out.stdout)
    assert document["group_by"] == "month" and document["utc_offset_minutes"] == 480
    assert [g["key"] for g in document["groups"]] == keys
    for g in document["groups"]:
        current, previous = now.get(g["key"], zero), before.get(g["key"], zero)
        assert {k: g[k] for k in FIELDS} == current
        assert g["previous_year"] == previous
        assert g["change"] == {k: current[k] - previous[k] for k in FIELDS}
        assert all(type(g[k]) is int for k in FIELDS)

    out = await stopay("audit", "report", *period, *compare, "--format", "csv", "--server", server)
    assert out.returncode == 0, out.stderr
    rows = list(csv.reader(io.StringIO(out.stdout)))
    assert rows[0] == [
        "group",
        "period",
        "cases",
        "reported_fen",
        "stopped_fen",
        "frozen_fen",
        "returned_fen",
        "exited_fen",
        "held_cases",
        "report_to_hold_p50_ms",
        "report_to_hold_p95_ms",
        "report_to_hold_p99_ms",
    ]
    want_rows = []
    for key in keys:
        current, previous = now.get(key, zero), before.get(key, zero)
        want_rows.append([key, "current", *(str(current[k]) for k in FIELDS)])
        want_rows.append([key, "previous_year", *(str(previous[k]) for k in FIELDS)])
        want_rows.append([key, "change", *(str(current[k] - previous[k]) for k in FIELDS)])
    assert rows[1:] == want_rows

    # Without --utc-offset the months are China's; given +00:00, UTC's.
    utc = await stopay("audit", "report", *period, "--by", "month", "--utc-offset", "+00:00", "--format", "csv",
                       "--server", server)  # fmt: skip
    in_utc = expected(cases, datetime(2025, 1, 1, tzinfo=CHINA), datetime(2025, 5, 1, tzinfo=CHINA), "month", UTC)
    assert {r[0]: int(r[2]) for r in list(csv.reader(io.StringIO(utc.stdout)))[1:]} == {
        k: v["cases"] for k, v in in_utc.items()
    }

    table = await stopay("audit", "report", *period, "--by", "station", "--server", server)
    assert table.returncode == 0, table.stderr
    assert "statistics" in table.stdout and "ST-A" in table.stdout and "ST-C" in table.stdout
    table = await stopay("audit", "report", *period, *compare, "--server", server)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert sum("year before" in line for line in lines) == sum("change" in line for line in lines) == len(keys)

    picture = tmp_path / "months.svg"
    drawn = await stopay("audit", "report", "--since", SINCE.isoformat(), "--until", UNTIL.isoformat(), "--svg",
                         str(picture), "--format", "csv", "--server", server)  # fmt: skip
    assert drawn.returncode == 0, drawn.stderr
    root = ET.parse(picture).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    months = [g for g in root.iter(f"{ns}g") if g.get("class") == "month"]
    all_months = expected(cases, SINCE, UNTIL, "month", CHINA)
    assert [g.get("data-month") for g in months] == sorted(all_months)
    for g in months:
        bars = {r.get("class"): float(r.get("height", "-1")) for r in g.iter(f"{ns}rect")}
        assert set(bars) == {"reported", "frozen", "returned", "exited"}
        assert bars["reported"] > 0 and bars["returned"] == 0
        want = all_months[g.get("data-month", "")]
        assert (bars["frozen"] > 0) == (want["frozen_minor"] > 0)


async def test_bad_groupings_are_refused_naming_the_field(world) -> None:
    audit = world["audit"]
    bad = request(SINCE, UNTIL, "month", 480)
    bad.utc_offset_minutes = 24 * 60
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await audit.GetReport(bad)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "utc_offset_minutes" in error.value.details()
    bad = request(SINCE, UNTIL, "month", 480)
    bad.group_by = 42  # type: ignore[assignment]
    bad.bank_code = "bad code"
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await audit.GetReport(bad)
    assert "group_by" in error.value.details() and "bank_code" in error.value.details()

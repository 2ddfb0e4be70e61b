"""One clock: the service's times come from the database's stopay_now() and the Python side's Clock,
and no outcome depends on the date a test happens to run on. A month is 28 to 31 days long, so the
hold rules are checked on dates pinned through the database clock, month ends and leap days included."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta

import grpc
import pytest

from stopay.dispatch.dispatcher import DispatchSettings
from stopay.domain.holds import HoldPolicy
from stopay.v1 import audit_pb2, audit_pb2_grpc, common_pb2, holds_pb2
from tests.conftest import FakeClock, db_now, eventually
from tests.e2e.test_holds import (
    FAST,
    M,
    _statuses,
    at,
    by,
    document,
    formalized,
    ref,
    refused,
    returned_funds,
    start,
    two_victims,
)
from tests.entries import confirm, simple_request


def one_month_on(day: date) -> date:
    """The same day a calendar month later, or that month's last day (31 January -> 28 February)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


async def pin_clock(pool, at_: datetime) -> None:
    """Moves the database clock so that stopay_now() reads ``at_`` now (and runs on from there)."""
    await pool.execute(
        "INSERT INTO stopay_clock (shift) VALUES ($1::timestamptz - now()) "
        "ON CONFLICT (one) DO UPDATE SET shift = excluded.shift",
        at_,
    )


# Started on each day, a month's formal freeze lasts so many days: a 30 days' notice outlasts it
# (the return must wait for a renewal) only when the coming month has 30 days or fewer.
MONTHS = [
    (date(2026, 12, 4), 31),
    (date(2027, 1, 31), 28),
    (date(2027, 2, 28), 28),
    (date(2028, 2, 29), 29),
    (date(2027, 4, 30), 30),
    (date(2027, 12, 31), 31),
]


@pytest.mark.parametrize(("day", "days"), MONTHS, ids=[d.isoformat() for d, _ in MONTHS])
async def test_a_month_s_formal_freeze_against_a_30_days_notice_on_every_kind_of_date(
    make_app,
    channel_to,
    holds_to,
    pool,
    tmp_path,
    day: date,
    days: int,
) -> None:
    assert (one_month_on(day) - day).days == days
    await pin_clock(pool, datetime(day.year, day.month, day.day, 10, tzinfo=UTC))
    policy = HoldPolicy(freeze_months=1, notice_days=30)
    app, (case_a, _) = await start(
        make_app, channel_to, two_victims(tmp_path), dispatch=DispatchSettings(**FAST), holds=policy
    )
    holds = holds_to(app)
    frozen = await formalized(
        holds, holds_pb2.FormalizeRequest(hold=ref(case_a), by=by(), document=document("GA-1", 80_000))
    )
    assert at(frozen.expires_at).astimezone(UTC).date() == one_month_on(day)
    await eventually(lambda: _statuses(pool, case_a, "extend", ["extended"]))
    ret = holds_pb2.ReturnFundsRequest(account=common_pb2.AccountRef(bank_code="BK", number=M), by=by())
    if days <= policy.notice_days:  # 30 days from a moment ago end before 30 days from now
        await refused(holds.ReturnFunds(ret), grpc.StatusCode.FAILED_PRECONDITION, "renew it first")
    else:
        started = await returned_funds(holds, ret)
        assert not started.direct and started.total_minor == 80_000
        assert at(started.due_at) - await db_now(pool) <= timedelta(days=30)


async def test_the_station_checks_transfer_times_by_the_service_s_clock(make_app, channel_to) -> None:
    clock = FakeClock(datetime(2031, 1, 31, 10, tzinfo=UTC))
    stub = channel_to(await make_app(dispatcher=False, clock=clock))
    request = simple_request(("ICBC", "6222000000000001", 100_000))
    request.transfers[0].transferred_at.FromDatetime(datetime(2031, 1, 31, 9, 55, tzinfo=UTC))
    assert (await stub.SubmitEntry(confirm(request))).case_id  # five minutes ago, by the service's clock
    late = simple_request(("ICBC", "6222000000000001", 100_000))
    late.transfers[0].transferred_at.FromDatetime(datetime(2031, 1, 31, 10, 11, tzinfo=UTC))
    confirm(late)
    await refused(stub.SubmitEntry(late), grpc.StatusCode.INVALID_ARGUMENT, "transfers[0].transferred_at")
    clock.advance(120)
    assert (await stub.SubmitEntry(late)).case_id


async def test_a_report_without_an_end_ends_now_by_the_service_s_clock(make_app, channel_to) -> None:
    clock = FakeClock(datetime(2020, 1, 1, tzinfo=UTC))  # before any case was entered
    app = await make_app(dispatcher=False, clock=clock)
    request = simple_request(("ICBC", "6222000000000001", 100_000))
    request.transfers[0].transferred_at.FromDatetime(datetime(2019, 12, 31, tzinfo=UTC))
    confirm(request, at=datetime(2019, 12, 31, 1, tzinfo=UTC))  # by the service's clock too
    await channel_to(app).SubmitEntry(request)  # the database stamps the case by its own clock
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        audit = audit_pb2_grpc.AuditServiceStub(channel)
        assert (await audit.GetReport(audit_pb2.ReportRequest())).cases == 0
        clock.advance(100 * 365 * 86_400)
        assert (await audit.GetReport(audit_pb2.ReportRequest())).cases == 1

"""The Prometheus endpoint of a running server (serve --metrics-listen), scraped over HTTP after a
seed-xue case: each family is there, with the values the database and the calls made say."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import aiohttp
import grpc
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from bank_adapters.protocol import BankUnavailable, StatementAnswer
from stopay.api.quotas import Quotas
from stopay.dispatch.dispatcher import DispatchSettings
from stopay.dispatch.metrics import Gauges
from stopay.domain.holds import HoldPolicy
from stopay.domain.review import Thresholds
from stopay.service.audit import Audit
from stopay.v1 import audit_pb2, audit_pb2_grpc, common_pb2, holds_pb2, holds_pb2_grpc, station_pb2, station_pb2_grpc
from tests.conftest import EXAMPLES, FakeClock, claim_rounds_pass, eventually
from tests.entries import scenario_requests, simple_request
from tests.fakebank import FakeBank
from tests.integration.test_audit_chain import some_cases, superuser

STATION = "stopay.v1.StationService"
FAMILIES = (
    "stopay_rpcs_handled",
    "stopay_rpc_duration_seconds",
    "stopay_orders",
    "stopay_bank_call_duration_seconds",
    "stopay_bank_breaker_state",
    "stopay_due_orders",
    "stopay_oldest_due_order_age_seconds",
    "stopay_entry_to_first_hold_seconds",
    "stopay_holds_expiring_24h",
    "stopay_objections_open",
    "stopay_objections_overdue",
    "stopay_reviews_waiting",
    "stopay_case_reviews_waiting",
    "stopay_chain_verifications",
    "stopay_chain_verification_failures",
    "stopay_gauges_read_ok",
)


class Scrape:
    def __init__(self, text: str) -> None:
        self.families = {f.name: f for f in text_string_to_metric_families(text)}

    def samples(self, name: str, family: str | None = None, **labels: str) -> list[Sample]:
        found = self.families[family or name].samples
        return [s for s in found if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]

    def value(self, name: str, family: str | None = None, **labels: str) -> float:
        return sum(s.value for s in self.samples(name, family, **labels))


async def scrape(port: int) -> Scrape:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as answer:
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("text/plain")
        return Scrape(await answer.text())


async def settled(stub, case_id: str) -> station_pb2.Case:
    last = None
    async for update in stub.WatchCase(station_pb2.WatchCaseRequest(case_id=case_id), timeout=20):
        last = update.case
    assert last is not None and last.settled
    return last


async def test_metrics_after_a_seed_xue_case(make_app, channel_to, pool) -> None:
    # Stops of 12 hours: every hold the case starts expires within 24 hours.
    app = await make_app(EXAMPLES / "seed-xue.json", metrics_listen="127.0.0.1:0", holds=HoldPolicy(stop_hours=12))
    assert app.metrics is not None and app.metrics.port not in (0, app.port)
    station = channel_to(app)
    (request,) = scenario_requests(app, EXAMPLES / "seed-xue.json")
    reply = await station.SubmitEntry(request)
    case = await settled(station, reply.case_id)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await station.GetCase(station_pb2.GetCaseRequest(case_id="not-a-case"))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")
    try:
        verified = await audit_pb2_grpc.AuditServiceStub(channel).VerifyLog(audit_pb2.VerifyLogRequest())
        assert verified.ok
        hold = await pool.fetchrow("SELECT bank_code, account_number FROM holds ORDER BY bank_code LIMIT 1")
        objection = holds_pb2.FileObjectionRequest(
            hold=holds_pb2.HoldRef(
                case_id=case.case_id,
                account=common_pb2.AccountRef(bank_code=hold["bank_code"], number=hold["account_number"]),
            ),
            holder_name="Zhang Wei",
            grounds="the money is my salary",
            by=holds_pb2.StepBy(officer_id="O-1001", request_id=uuid.uuid4().hex),
        )
        assert (await holds_pb2_grpc.HoldServiceStub(channel).FileObjection(objection)).open
    finally:
        await channel.close()

    # A stream is counted when it ends, and the first hold once its transaction has committed: wait
    # for both rather than for a time.
    found: list[Scrape] = []

    async def counted() -> bool:
        found[:] = [await scrape(app.metrics.port)]  # type: ignore[union-attr]
        got = found[0]
        watched = got.value("stopay_rpcs_handled_total", "stopay_rpcs_handled", method="WatchCase", code="OK")
        first = got.value("stopay_entry_to_first_hold_seconds_count", "stopay_entry_to_first_hold_seconds")
        return watched >= 1 and first >= 1

    await eventually(counted)
    got = found[0]
    missing = [f for f in FAMILIES if f not in got.families]
    assert not missing, missing

    # RPCs by method and status code, with their latency.
    handled: Callable[..., float] = lambda **labels: got.value(  # noqa: E731
        "stopay_rpcs_handled_total", "stopay_rpcs_handled", **labels
    )
    assert handled(service=STATION, method="SubmitEntry", code="OK") == 1
    assert handled(service=STATION, method="GetCase", code="INVALID_ARGUMENT") == 1
    assert handled(method="VerifyLog", code="OK") == 1
    assert handled(method="FileObjection", code="OK") == 1
    latency = "stopay_rpc_duration_seconds"
    assert got.value(f"{latency}_count", latency, method="SubmitEntry", code="OK") == 1
    assert 0 < got.value(f"{latency}_sum", latency, method="SubmitEntry", code="OK") < 10
    inf = got.samples(f"{latency}_bucket", latency, method="SubmitEntry", code="OK", le="+Inf")
    assert [s.value for s in inf] == [1]

    # Orders by status and bank: what the database holds, no more, no less.
    rows = await pool.fetch("SELECT status, bank_code, count(*) AS n FROM freeze_orders GROUP BY 1, 2")
    in_db = {(r["status"], r["bank_code"]): r["n"] for r in rows}
    shown = {(s.labels["status"], s.labels["bank"]): s.value for s in got.samples("stopay_orders")}
    assert shown == in_db and sum(shown.values()) == await pool.fetchval("SELECT count(*) FROM freeze_orders")
    assert sum(shown.values()) == len(case.orders) == 6  # a freeze order and a stop per level
    assert got.value("stopay_reviews_waiting") == 0

    # The case is settled: nothing is due.
    assert got.value("stopay_due_orders") == 0
    assert got.value("stopay_oldest_due_order_age_seconds") == 0

    # Bank calls: every bank the case's orders went to answered, statements and freezes both.
    calls = "stopay_bank_call_duration_seconds"
    for bank in {bank for _, bank in in_db}:
        assert got.value(f"{calls}_count", calls, bank=bank, outcome="answered") >= 1, bank
    assert got.value(f"{calls}_count", calls, request="statement") >= 1
    assert got.value(f"{calls}_count", calls, request="freeze") >= 1
    assert not got.samples(f"{calls}_count", calls, outcome="timeout")

    # Every bank this replica serves has its breaker closed.
    breakers = {s.labels["bank"]: s.value for s in got.samples("stopay_bank_breaker_state")}
    assert breakers == dict.fromkeys(app.adapters, 0)

    # One case, so one first hold, observed in fewer seconds than the case took to settle.
    first = "stopay_entry_to_first_hold_seconds"
    assert got.value(f"{first}_count", first) == 1
    assert 0 < got.value(f"{first}_sum", first) < 20

    # The case's holds are emergency stops of 12 hours: all expiring within a day.
    live = await pool.fetchval("SELECT count(*) FROM holds WHERE state IN ('stopped', 'frozen')")
    assert live >= 1 and got.value("stopay_holds_expiring_24h") == live

    assert got.value("stopay_objections_open") == 1
    assert got.value("stopay_objections_overdue") == 0

    assert got.value("stopay_chain_verifications_total", "stopay_chain_verifications") == 1
    assert got.value("stopay_chain_verification_failures_total", "stopay_chain_verification_failures") == 0
    assert got.value("stopay_gauges_read_ok") == 1


async def test_two_servers_in_one_process_keep_their_metrics_apart(make_app, channel_to) -> None:
    first = await make_app(metrics_listen="127.0.0.1:0")
    second = await make_app(metrics_listen="127.0.0.1:0")
    with pytest.raises(grpc.aio.AioRpcError):
        await channel_to(first).GetCase(station_pb2.GetCaseRequest(case_id="not-a-case"))
    assert first.metrics is not None and second.metrics is not None
    one, other = await scrape(first.metrics.port), await scrape(second.metrics.port)
    assert one.value("stopay_rpcs_handled_total", "stopay_rpcs_handled", method="GetCase") == 1
    assert other.value("stopay_rpcs_handled_total", "stopay_rpcs_handled", method="GetCase") == 0


async def test_no_metrics_endpoint_unless_asked(make_app) -> None:
    app = await make_app()
    assert app.metrics is None


async def test_a_bank_that_is_down_shows_in_its_calls_its_breaker_and_the_due_queue(make_app, channel_to) -> None:
    down = FakeBank({"DOWN"})

    def unavailable(request: object) -> StatementAnswer:
        raise BankUnavailable("the bank is down")

    down.on_statement = unavailable
    app = await make_app(
        metrics_listen="127.0.0.1:0",
        bank_adapters={"DOWN": down},
        dispatch=DispatchSettings(
            poll_s=0.2, retry_base_s=0.05, retry_cap_s=0.2, breaker_threshold=2, breaker_open_s=600
        ),
    )
    await channel_to(app).SubmitEntry(simple_request(("DOWN", "6222020200001234567", 500000)))
    assert app.metrics is not None
    calls = "stopay_bank_call_duration_seconds"
    found: list[Scrape] = []

    async def open_and_waiting() -> bool:
        found[:] = [got := await scrape(app.metrics.port)]  # type: ignore[union-attr]
        breakers = {s.labels["bank"]: s.value for s in got.samples("stopay_bank_breaker_state")}
        return breakers == {"DOWN": 1} and got.value("stopay_oldest_due_order_age_seconds") > 0

    await eventually(open_and_waiting, timeout_s=30)
    got = found[0]
    # The failures that opened the breaker (calls already out when it opened fail too), the stop's
    # freeze, which the fake bank answers; then no statement is asked while the breaker is open.
    failed = got.value(f"{calls}_count", calls, bank="DOWN", request="statement", outcome="unavailable")
    assert failed >= 2
    assert got.value("stopay_due_orders") >= 1
    await claim_rounds_pass(app)
    again = await scrape(app.metrics.port)
    assert again.value(f"{calls}_count", calls, bank="DOWN", request="statement", outcome="unavailable") == failed
    assert not again.samples(f"{calls}_count", calls, request="statement", outcome="answered")


async def test_the_settled_orders_are_read_once_a_minute_the_open_ones_every_five_seconds(
    make_app, channel_to, pool
) -> None:
    app = await make_app(EXAMPLES / "seed-xue.json")
    clock = FakeClock()
    registry = CollectorRegistry()
    gauges = Gauges(registry, pool, Audit(pool), None, clock=clock)

    def orders() -> dict[tuple[str, str], float]:
        found = {m.name: m for m in registry.collect()}
        if "stopay_orders" not in found:
            return {}
        return {(s.labels["status"], s.labels["bank"]): s.value for s in found["stopay_orders"].samples}

    await gauges.refresh()
    assert orders() == {}
    station = channel_to(app)
    (request,) = scenario_requests(app, EXAMPLES / "seed-xue.json")
    case_id = (await station.SubmitEntry(request)).case_id
    await gauges.refresh()
    assert orders() == {}  # read less than five seconds ago
    clock.advance(5)
    await gauges.refresh()
    open_now = await pool.fetchval("SELECT count(*) FROM freeze_orders WHERE freeze_order_open(status)")
    assert sum(orders().values()) >= open_now  # the open ones, read again (more may have opened since)
    assert all(status in ("queued", "freezing", "pending") for status, _ in orders())
    await settled(station, case_id)
    clock.advance(60)
    await gauges.refresh()
    rows = await pool.fetch("SELECT status, bank_code, count(*) AS n FROM freeze_orders GROUP BY 1, 2")
    assert orders() == {(r["status"], r["bank_code"]): r["n"] for r in rows}


async def test_refusals_and_cancelled_streams_are_counted_and_give_their_slot_back(make_app, pki) -> None:
    app = await make_app(tls=pki.server, quotas=Quotas(streams_per_caller=1), metrics_listen="127.0.0.1:0")
    stub = station_pb2_grpc.StationServiceStub(pki.as_(app.port, "station", "CQ-YUZHONG-01"))
    case = await stub.SubmitEntry(simple_request(("ZZB", "6222020200004444", 90_000)))
    first = stub.WatchCase(station_pb2.WatchCaseRequest(case_id=case.case_id, follow=True))
    await first.read()  # the stream is open and holds the caller's one slot
    with pytest.raises(grpc.aio.AioRpcError) as over:
        await stub.WatchCase(station_pb2.WatchCaseRequest(case_id=case.case_id)).read()
    assert over.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    first.cancel()

    async def slot_back() -> bool:
        try:
            await stub.WatchCase(station_pb2.WatchCaseRequest(case_id=case.case_id)).read()
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            return False
        return True

    await eventually(slot_back)
    assert app.metrics is not None
    found: list[Scrape] = []

    async def cancelled_counted() -> bool:
        found[:] = [got := await scrape(app.metrics.port)]  # type: ignore[union-attr]
        return got.value("stopay_rpcs_handled_total", "stopay_rpcs_handled", method="WatchCase", code="CANCELLED") == 1

    await eventually(cancelled_counted)
    handled = found[0]
    assert handled.value("stopay_rpcs_handled_total", "stopay_rpcs_handled", method="SubmitEntry", code="OK") == 1
    refused = handled.value(
        "stopay_rpcs_handled_total", "stopay_rpcs_handled", method="WatchCase", code="RESOURCE_EXHAUSTED"
    )
    assert refused >= 1


async def test_freezes_waiting_for_review_are_counted(make_app, channel_to, pool) -> None:
    # One account at most before review: the level-1 stop goes out, the freezes past it wait.
    app = await make_app(
        EXAMPLES / "seed-xue.json",
        metrics_listen="127.0.0.1:0",
        holds=HoldPolicy(review=Thresholds(max_accounts=1)),
    )
    station = channel_to(app)
    (request,) = scenario_requests(app, EXAMPLES / "seed-xue.json")
    await station.SubmitEntry(request)
    assert app.metrics is not None
    found: list[Scrape] = []
    waiting_sql = "SELECT count(*) FROM freeze_orders WHERE status = 'awaiting_review'"

    async def waiting() -> bool:
        found[:] = [got := await scrape(app.metrics.port)]  # type: ignore[union-attr]
        shown = got.value("stopay_reviews_waiting")
        return shown >= 1 and shown == await pool.fetchval(waiting_sql)

    await eventually(waiting, timeout_s=30)
    got = found[0]
    assert got.value("stopay_case_reviews_waiting") == 1
    assert got.value("stopay_orders", status="awaiting_review") == got.value("stopay_reviews_waiting")


async def test_a_verification_that_finds_a_broken_chain_is_counted(pool) -> None:
    (case_id,) = await some_cases(pool, 1)
    audit = Audit(pool)
    registry = CollectorRegistry()
    Gauges(registry, pool, audit, None)
    assert (await audit.verify()).ok
    await superuser(pool, "UPDATE case_events SET actor = 'someone else' WHERE case_id = $1 AND chain_pos = 2", case_id)
    assert not (await audit.verify()).ok
    assert registry.get_sample_value("stopay_chain_verifications_total") == 2
    assert registry.get_sample_value("stopay_chain_verification_failures_total") == 1

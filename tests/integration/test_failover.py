"""stopay rides through a database outage and a failover without a restart: calls fail UNAVAILABLE
while no primary can be reached, and health says NOT_SERVING; afterwards new calls succeed, the
dispatcher and the listener go on by themselves, and an answer a bank gave during the outage is
recorded without asking the bank again. Each test runs PostgreSQL servers of its own
(tests/pgcluster.py) that it stops, starts and promotes."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from functools import partial

import asyncpg
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bank_adapters.protocol import BankUnavailable, FreezeAnswer, FreezeRequest, StatementAnswer, StatementRequest
from stopay import bootstrap
from stopay.api.server import SERVICE_NAMES
from stopay.config import Settings
from stopay.dispatch.dispatcher import DispatchSettings
from stopay.store.notifications import Notifications
from stopay.v1 import station_pb2, station_pb2_grpc
from tests.conftest import SECRETS, eventually
from tests.entries import simple_request
from tests.fakebank import FakeBank
from tests.pgcluster import Server, Servers, create_database, free_port, multi_host_dsn, until_up

pytestmark = pytest.mark.db

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
DATABASE = "stopay"
# Short leases, so that an outage outlasts them within a test.
FAST = DispatchSettings(poll_s=0.1, retry_base_s=0.05, retry_cap_s=0.3, lease_s=1.0, pending_recheck_s=60.0)


class GatedBank(FakeBank):
    """A bank that takes requests at once but answers each only once its gate is open."""

    def __init__(self, codes: set[str]) -> None:
        super().__init__(codes)
        self.gate = asyncio.Event()
        self.gate.set()

    async def statement(self, request: StatementRequest) -> StatementAnswer:
        self.requests.append(request)
        await self.gate.wait()
        return self.on_statement(request)

    async def freeze(self, request: FreezeRequest) -> FreezeAnswer:
        self.requests.append(request)
        await self.gate.wait()
        return self.on_freeze(request)

    def per_key(self) -> Counter[str]:
        return Counter(r.idempotency_key for r in self.requests)  # type: ignore[attr-defined]


@pytest.fixture
def servers() -> Iterator[Servers]:
    made = Servers()
    yield made
    made.close()


Stubs = tuple[bootstrap.App, station_pb2_grpc.StationServiceStub, health_pb2_grpc.HealthStub]
Started = Callable[..., Awaitable[Stubs]]


@pytest.fixture
async def start_app() -> AsyncIterator[Started]:
    apps: list[bootstrap.App] = []
    channels: list[grpc.aio.Channel] = []

    async def start(dsn: str, banks: FakeBank | dict[str, FakeBank], **overrides: object):  # type: ignore[no-untyped-def]
        routes = banks if isinstance(banks, dict) else {code: banks for code in banks.bank_codes}
        settings = Settings(
            listen="127.0.0.1:0",
            dsn=dsn,
            bank_adapters=routes,
            dispatch=overrides.pop("dispatch", FAST),
            shutdown_grace_s=1.0,
            **overrides,  # type: ignore[arg-type]
        )
        app = await bootstrap.build(settings)
        await app.start()
        apps.append(app)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")
        channels.append(channel)
        return app, station_pb2_grpc.StationServiceStub(channel), health_pb2_grpc.HealthStub(channel)

    yield start
    for app in reversed(apps):
        with contextlib.suppress(Exception):
            await SECRETS.from_database(app.dsn)
        await app.stop()
    for channel in channels:
        await channel.close()


async def health_is(health: health_pb2_grpc.HealthStub, status: int) -> bool:
    """The server as a whole, and each of its services, report ``status``."""
    for service in ("", *SERVICE_NAMES):
        if (await health.Check(health_pb2.HealthCheckRequest(service=service))).status != status:
            return False
    return True


async def settled(stub: station_pb2_grpc.StationServiceStub, case_id: str) -> bool:
    return (await stub.GetCase(station_pb2.GetCaseRequest(case_id=case_id))).settled


async def submitted(stub: station_pb2_grpc.StationServiceStub, request: station_pb2.SubmitEntryRequest) -> bool:
    """The station's retry: True once the entry is stored; only UNAVAILABLE may come before."""
    try:
        await stub.SubmitEntry(request, timeout=10)
    except grpc.aio.AioRpcError as exc:
        assert exc.code() is grpc.StatusCode.UNAVAILABLE, exc
        return False
    return True


async def server_port(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT inet_server_port()"))


async def caught_up(first: Server, standby: Server) -> None:
    """Waits until ``standby`` has replayed all that ``first`` has written so far."""
    conn = await asyncpg.connect(first.dsn())
    try:
        written = await conn.fetchval("SELECT pg_current_wal_lsn()")
    finally:
        await conn.close()

    async def replayed() -> bool:
        conn = await asyncpg.connect(standby.dsn())
        try:
            return bool(await conn.fetchval("SELECT pg_last_wal_replay_lsn() >= $1", written))
        finally:
            await conn.close()

    await eventually(replayed)


async def primary(root: Servers, name: str = "primary") -> Server:
    server = root.new(name).init().start()
    await create_database(server, DATABASE)
    return server


async def test_a_multi_host_dsn_passes_a_dead_host_and_a_standby_to_reach_the_primary(servers, start_app) -> None:
    first = await primary(servers)
    standby = servers.new("standby").standby_of(first).start()
    await until_up(standby)
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    dsn = multi_host_dsn(standby, first, database=DATABASE).replace("@", f"@{dead},", 1)
    bank = FakeBank({"ICBC"})
    app, stub, health = await start_app(dsn, bank)

    reply = await stub.SubmitEntry(simple_request(("ICBC", "6222020200007001", 70000)))
    await eventually(partial(settled, stub, reply.case_id))
    assert await server_port(app.pool) == first.port
    assert app.notifications.listening and await health_is(health, SERVING)


async def test_a_database_restart_is_ridden_through_and_nothing_is_asked_twice(servers, start_app) -> None:
    server = await primary(servers)
    bank, down = GatedBank({"ICBC"}), FakeBank({"ABC"})
    app, stub, health = await start_app(
        server.dsn(DATABASE), {"ICBC": bank, "ABC": down}, dispatch=replace(FAST, breaker_threshold=1000)
    )
    assert app.dispatcher is not None
    before = await stub.SubmitEntry(simple_request(("ICBC", "6222020200007101", 71000)))
    await eventually(partial(settled, stub, before.case_id))
    await eventually(partial(health_is, health, SERVING))

    # Queued: the orders of an entry at a bank that is down until the outage, asked again and again.
    def unavailable(request: object) -> StatementAnswer:
        raise BankUnavailable("down for maintenance")

    down.on_statement, down.on_freeze = unavailable, unavailable  # type: ignore[assignment]
    queued = await stub.SubmitEntry(simple_request(("ABC", "6222020200007103", 73000)))

    async def asked_again() -> bool:
        return len(down.requests) >= 4

    await eventually(asked_again)
    # In flight: the bank has both requests of an entry (its freeze order's statement and its stop)
    # and holds its answers.
    bank.gate.clear()
    in_flight = await stub.SubmitEntry(simple_request(("ICBC", "6222020200007102", 72000)))

    async def both_asked() -> bool:
        return len(bank.requests) == 4

    await eventually(both_asked)

    server.stop()  # immediate: as a crash, every connection cut
    await eventually(partial(health_is, health, NOT_SERVING))
    during = simple_request(("ICBC", "6222020200007104", 74000))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.SubmitEntry(during, timeout=10)
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE, refused.value
    assert "retry with the same entry_id" in (refused.value.details() or "")

    # The bank answers while the database is away; the recorder keeps the answers, for longer than
    # the leases of their claims last. The other bank is back too.
    bank.gate.set()
    down.on_statement, down.on_freeze = FakeBank.plain_statement, FakeBank({"ABC"}).on_freeze
    loop = asyncio.get_running_loop()
    down_at = loop.time()
    postponed = app.dispatcher.record_postponed

    async def outage_outlasted_the_leases() -> bool:
        return app.dispatcher.record_postponed > postponed and loop.time() - down_at > 2 * FAST.lease_s

    await eventually(outage_outlasted_the_leases)
    listened = app.notifications.connections

    server.start()
    await eventually(partial(health_is, health, SERVING), timeout_s=20)
    reply = await stub.SubmitEntry(during, timeout=10)  # the station's retry, same entry_id
    assert not reply.duplicate
    assert (await stub.SubmitEntry(during, timeout=10)).duplicate
    for case_id in (in_flight.case_id, queued.case_id, reply.case_id):
        await eventually(partial(settled, stub, case_id), timeout_s=30)

    # Every request reached the bank once: the answers given during the outage were recorded, not
    # asked again once the leases ran out.
    asked = bank.per_key()
    assert len(asked) == 6 and set(asked.values()) == {1}, asked
    conn = await asyncpg.connect(server.dsn(DATABASE))
    try:
        stored = await conn.fetch(
            "SELECT o.kind, o.status, o.attempts FROM freeze_orders o WHERE o.case_id = $1::uuid", in_flight.case_id
        )
        assert sorted((r["kind"], r["status"], r["attempts"]) for r in stored) == [
            ("freeze", "moved_on", 1),
            ("stop", "held", 1),
        ]
        assert await conn.fetchval("SELECT count(*) FROM cases") == 4
    finally:
        await conn.close()

    async def listening_again() -> bool:  # the LISTEN connection came back by itself
        return app.notifications.connections > listened and app.notifications.listening

    await eventually(listening_again)


async def test_a_failover_to_a_promoted_standby_is_ridden_through(servers, start_app) -> None:
    first = await primary(servers)
    second = servers.new("standby").standby_of(first).start()
    await until_up(second)
    bank = FakeBank({"ICBC"})
    app, stub, health = await start_app(multi_host_dsn(first, second, database=DATABASE), bank)
    before = await stub.SubmitEntry(simple_request(("ICBC", "6222020200007201", 81000)))
    await eventually(partial(settled, stub, before.case_id))
    assert await server_port(app.pool) == first.port
    await caught_up(first, second)

    first.stop()
    await eventually(partial(health_is, health, NOT_SERVING))
    second.promote()
    await eventually(partial(health_is, health, SERVING), timeout_s=20)

    after = simple_request(("ICBC", "6222020200007202", 82000))
    # A call may still meet a connection to the old primary: UNAVAILABLE, and the station retries.
    await eventually(partial(submitted, stub, after))
    reply = await stub.SubmitEntry(after, timeout=10)
    assert reply.duplicate
    await eventually(partial(settled, stub, reply.case_id))
    assert await server_port(app.pool) == second.port
    assert (await stub.GetCase(station_pb2.GetCaseRequest(case_id=before.case_id))).settled
    assert Counter(r.idempotency_key for r in bank.requests).most_common(1)[0][1] == 1  # type: ignore[attr-defined]


async def test_a_primary_demoted_under_open_connections_is_left_for_the_new_one(servers, start_app) -> None:
    """The old primary stays up but refuses writes (as a demoted server does): calls get UNAVAILABLE,
    never INTERNAL; the pool leaves it, and calls go to the promoted standby."""
    first = await primary(servers)
    second = servers.new("standby").standby_of(first).start()
    await until_up(second)
    bank = FakeBank({"ICBC"})
    app, stub, health = await start_app(multi_host_dsn(first, second, database=DATABASE), bank)
    before = await stub.SubmitEntry(simple_request(("ICBC", "6222020200007301", 91000)))
    await eventually(partial(settled, stub, before.case_id))

    await set_read_only(first)
    request = simple_request(("ICBC", "6222020200007302", 92000))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.SubmitEntry(request, timeout=10)
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE, refused.value
    await eventually(partial(health_is, health, NOT_SERVING))

    second.promote()
    await eventually(partial(health_is, health, SERVING), timeout_s=20)

    await eventually(partial(submitted, stub, request))
    assert await server_port(app.pool) == second.port


async def set_read_only(server: Server) -> None:
    """The server refuses writes from now on, in open sessions too, as a demoted primary does."""
    admin = await asyncpg.connect(server.dsn())
    try:
        await admin.execute("ALTER SYSTEM SET default_transaction_read_only = on")
        await admin.execute("SELECT pg_reload_conf()")
    finally:
        await admin.close()


async def test_the_listener_leaves_a_demoted_server_for_the_new_primary(servers) -> None:
    first = await primary(servers)
    second = servers.new("standby").standby_of(first).start()
    await until_up(second)
    notifications = Notifications(multi_host_dsn(first, second, database=DATABASE), reconnect_s=0.1, check_s=0.2)
    notifications.start()
    try:
        with notifications.orders() as woken:

            async def listening_on(connections: int) -> bool:
                return notifications.listening and notifications.connections == connections

            await eventually(partial(listening_on, 1))
            await set_read_only(first)  # its connection stays open: only the check can tell
            second.promote()
            await eventually(partial(listening_on, 2))
            woken.clear()
            conn = await asyncpg.connect(second.dsn(DATABASE))
            try:
                await conn.execute("SELECT pg_notify('stopay_orders', '')")
            finally:
                await conn.close()

            async def woken_up() -> bool:
                return woken.is_set()

            await eventually(woken_up)
    finally:
        await notifications.close()

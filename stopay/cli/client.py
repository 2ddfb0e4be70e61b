"""The clients: ``stopay entry submit``, ``stopay case show|list`` and ``stopay order retry``, over gRPC."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path

import grpc
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from stopay.cli import render
from stopay.v1 import operator_pb2, operator_pb2_grpc, station_pb2, station_pb2_grpc


def read_entry(path: Path) -> station_pb2.SubmitEntryRequest:
    text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    return json_format.Parse(text, station_pb2.SubmitEntryRequest())


def account_arg(text: str) -> tuple[str, str]:
    """An argparse type: ``BANK:NUMBER`` -> ``(bank, number)``."""
    bank, sep, number = text.partition(":")
    if not sep or not bank or not number:
        raise argparse.ArgumentTypeError(f"{text!r} is not BANK:NUMBER")
    return bank, number


def to_json(message: object, *, compact: bool = False) -> str:
    # Every field, zero values too: a program reading "ok" or "held_minor" should find it.
    text = json_format.MessageToJson(
        message, preserving_proto_field_name=True, ensure_ascii=False,  # type: ignore[arg-type]
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
    stub: station_pb2_grpc.StationServiceStub, case_id: str, emit: Callable[[station_pb2.CaseUpdate], None]
) -> station_pb2.Case:
    last = station_pb2.Case()
    async for update in stub.WatchCase(station_pb2.WatchCaseRequest(case_id=case_id)):
        emit(update)
        last = update.case
    return last


async def _run(args: argparse.Namespace) -> int:
    async with grpc.aio.insecure_channel(args.server) as channel:
        stub = station_pb2_grpc.StationServiceStub(channel)
        if args.command == "entry":
            request = read_entry(args.file)
            reply = await stub.SubmitEntry(request)
            if args.json and not args.watch:
                print(to_json(reply))
            elif not args.json:
                print(f"case {reply.case_id} {'already accepted (duplicate)' if reply.duplicate else 'accepted'}")
                for line in render.link_texts(reply.linked_cases, request.transfers[0].currency or "CNY"):
                    print(f"  {line}")
            if args.watch:
                # One update per line, so a program can read the stream as JSON lines.
                emit = (lambda u: print(to_json(u, compact=True), flush=True)) if args.json else _print_events
                case = await watch(stub, reply.case_id, emit)
                if not args.json:
                    print(render.case_text(case))
        elif args.command == "order":
            operator = operator_pb2_grpc.OperatorServiceStub(channel)
            created = await operator.RetryOrder(
                operator_pb2.RetryOrderRequest(order_id=args.order_id, operator_id=args.operator)
            )
            print(to_json(created) if args.json else f"order {args.order_id} retried as {created.order_id} "
                                                       f"(case {created.case_id})")
        elif args.action == "show":
            case = await stub.GetCase(station_pb2.GetCaseRequest(case_id=args.case_id))
            print(to_json(case) if args.json else render.case_text(case))
        else:
            reply = await stub.ListCases(station_pb2.ListCasesRequest(station_id=args.station, page_size=args.limit))
            if args.json:
                print(to_json(reply))
            for case in reply.cases if not args.json else ():
                state = "settled" if case.settled else "open"
                print(f"{case.case_id}  {case.station_id}  {case.report_no}  {case.victim_name}  "
                      f"reported {case.reported_minor}  held {case.held_minor}  {state}")
    return 0


def _print_events(update: station_pb2.CaseUpdate) -> None:
    for event in update.events:
        print(render.event_text(event), flush=True)


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(args))
    except grpc.aio.AioRpcError as exc:
        print(describe_error(exc), file=sys.stderr)
        return 1
    except (OSError, json_format.ParseError) as exc:
        print(f"stopay: {exc}", file=sys.stderr)
        return 2

"""``stopay objection``: a holder's objection to a hold (file, list, decide) over gRPC."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.table import Table

from stopay.cli.args import account_arg, yuan
from stopay.cli.connect import add_server_flag, add_tls_flags
from stopay.cli.exits import LOCAL, Failure
from stopay.cli.holds import run_call, step_by, when
from stopay.domain.money import format_minor
from stopay.v1 import common_pb2, holds_pb2, holds_pb2_grpc

_DECISIONS = {"release": holds_pb2.OBJECTION_DECISION_RELEASE, "keep": holds_pb2.OBJECTION_DECISION_KEEP}
_DECIDED = {v: k for k, v in _DECISIONS.items()} | {holds_pb2.OBJECTION_DECISION_RELEASE_PART: "release part"}
_VIA = {holds_pb2.OBJECTION_VIA_BANK: "bank", holds_pb2.OBJECTION_VIA_STATION: "station"}


def add_parser(commands: Any, env: Any, default_server: str) -> None:
    objection = commands.add_parser("objection", help="officers: a holder's objection to a hold")
    actions = objection.add_subparsers(dest="action", required=True)
    filing = actions.add_parser("file", help="file the holder's objection to a hold, taken at the station")
    filing.add_argument("case_id")
    filing.add_argument("account", type=account_arg, metavar="BANK:NUMBER")
    filing.add_argument("--holder", required=True, help="the account holder's name")
    filing.add_argument("--grounds", required=True, help="the holder's grounds")
    filing.add_argument(
        "--document", action="append", default=[], metavar="REF", help="a document the objection refers to (repeat)"
    )
    listing = actions.add_parser("list", help="objections: of a case, or the overdue ones")
    listing.add_argument("--case", default="", metavar="CASE_ID", help="only this case's")
    listing.add_argument("--open", action="store_true", help="only the undecided ones")
    listing.add_argument("--overdue", action="store_true", help="only the undecided ones past their deadline")
    deciding = actions.add_parser("decide", help="release the hold, release a part of it, or keep it")
    deciding.add_argument("objection_id")
    deciding.add_argument(
        "decision", nargs="?", choices=sorted(_DECISIONS), help="release or keep (left out with --release-part)"
    )
    deciding.add_argument(
        "--release-part",
        type=yuan,
        metavar="YUAN",
        help="release this much of the hold, in yuan (e.g. 300 or 1234.56), and keep the rest held",
    )
    deciding.add_argument("--reasons", required=True, help="why, for the case's audit chain")
    for sub in (filing, deciding):
        sub.add_argument(
            "--officer", default="", help="who takes or decides it (with TLS, the certificate's name: may be left out)"
        )
        sub.add_argument(
            "--request-id", default=None, help="send the same id again to retry safely (default: a new one, printed)"
        )
    for sub in (filing, listing, deciding):
        add_server_flag(sub, env, default_server)
        add_tls_flags(sub, env, serving=False)
        sub.add_argument("--json", action="store_true", help="output for programs")


async def _call(args: argparse.Namespace, stub: holds_pb2_grpc.HoldServiceStub) -> Any:
    if args.action == "file":
        bank, number = args.account
        return await stub.FileObjection(
            holds_pb2.FileObjectionRequest(
                hold=holds_pb2.HoldRef(
                    case_id=args.case_id, account=common_pb2.AccountRef(bank_code=bank, number=number)
                ),
                holder_name=args.holder,
                grounds=args.grounds,
                documents=args.document,
                by=step_by(args, ""),
            )
        )
    if args.action == "list":
        return await stub.ListObjections(
            holds_pb2.ListObjectionsRequest(case_id=args.case, open_only=args.open, overdue_only=args.overdue)
        )
    if (args.decision is None) == (args.release_part is None):
        raise Failure(LOCAL, "give release or keep, or --release-part YUAN (one of them)")
    if args.release_part is not None:
        decision, part = holds_pb2.OBJECTION_DECISION_RELEASE_PART, args.release_part
    else:
        decision, part = _DECISIONS[args.decision], 0
    return await stub.DecideObjection(
        holds_pb2.DecideObjectionRequest(
            objection_id=args.objection_id, decision=decision, release_minor=part, by=step_by(args, args.reasons)
        )
    )


def _table(objections: list[holds_pb2.Objection]) -> Table:
    table = Table(title="objections")
    for column in ("objection", "case", "account", "holder", "via", "filed", "due", "state", "decision", "by"):
        table.add_column(column)
    for o in objections:
        if o.open:
            state = "escalated" if o.HasField("escalated_at") else ("overdue" if o.overdue else "open")
        else:
            state = "decided"
        table.add_row(
            o.objection_id,
            o.hold.case_id,
            f"{o.hold.account.bank_code}:{o.hold.account.number}",
            o.holder_name,
            f"{_VIA.get(o.via, '')} ({o.taken_by})",
            when(o.filed_at),
            when(o.due_at),
            state,
            _DECIDED.get(o.decision, "")
            + (f" {format_minor(o.released_minor)}" if o.decision == holds_pb2.OBJECTION_DECISION_RELEASE_PART else ""),
            o.decided_by,
        )
    return table


def _show(reply: Any) -> None:
    console = Console(width=180, highlight=False, soft_wrap=False)
    if isinstance(reply, holds_pb2.ListObjectionsResponse):
        console.print(_table(list(reply.objections)))
        return
    console.print(_table([reply]))
    if reply.replayed:
        console.print("[this request was taken before]")
    if reply.open:
        console.print(
            f"  decide it by {when(reply.due_at)}: stopay objection decide {reply.objection_id} release|keep"
            " (or --release-part YUAN) --reasons TEXT"
        )


def run(args: argparse.Namespace) -> int:
    return run_call(args, _call, _show)

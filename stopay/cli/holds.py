"""``stopay hold``: officers' steps on holds (list, renew, formalize, release, return, approve) over gRPC."""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from google.protobuf.message import Message
from rich.console import Console
from rich.table import Table

from stopay.api.convert import APPROVAL_ACTION, HOLD_STATE
from stopay.cli.args import account_arg, yuan
from stopay.cli.client import to_json
from stopay.cli.connect import add_server_flag, add_tls_flags, open_channel
from stopay.domain.holds import HoldState
from stopay.domain.money import format_minor
from stopay.v1 import common_pb2, holds_pb2, holds_pb2_grpc


def add_parser(commands: Any, env: Any, default_server: str) -> None:
    hold = commands.add_parser("hold", help="officers: renew, formalize, release and return holds")
    actions = hold.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="a case's holds, or every hold on an account")
    key = listing.add_mutually_exclusive_group()  # ListHoldsRequest takes one of them
    key.add_argument("case_id", nargs="?", default="")
    key.add_argument("--account", type=account_arg, metavar="BANK:NUMBER", help="every case's hold on this account")
    renew = actions.add_parser("renew", help="renew an emergency stop for another period")
    formalize = actions.add_parser("formalize", help="turn a stop into a formal freeze, or renew a formal freeze")
    release = actions.add_parser("release", help="release the hold on an account found unrelated")
    for sub in (renew, formalize, release):
        sub.add_argument("case_id")
        sub.add_argument("account", type=account_arg, metavar="BANK:NUMBER")
    formalize.add_argument("--document", required=True, metavar="NUMBER", help="the legal document's number")
    formalize.add_argument("--approver", required=True, help="who approved the document")
    formalize.add_argument(
        "--amount",
        type=yuan,
        required=True,
        metavar="YUAN",
        help="the amount the document freezes, in yuan (e.g. 600 or 1234.56)",
    )
    formalize.add_argument("--scope", required=True, help="what the document covers")
    formalize.add_argument("--interest", action="store_true", help="the freeze includes interest")
    formalize.add_argument("--major", action="store_true", help="a major case: the freeze lasts a year")
    returning = actions.add_parser("return", help="return the money held on an account to the victims")
    returning.add_argument("account", type=account_arg, metavar="BANK:NUMBER")
    approve = actions.add_parser("approve", help="approve a formal freeze or return another officer asked for")
    approve.add_argument("approval_id", help="the approval id that formalize or return printed")
    for sub in (renew, formalize, release, returning, approve):
        sub.add_argument(
            "--officer", default="", help="who takes the step (with TLS, the certificate's name: may be left out)"
        )
        sub.add_argument("--reason", required=True, help="why, for the case's audit chain")
        sub.add_argument(
            "--request-id", default=None, help="send the same id again to retry safely (default: a new one, printed)"
        )
    for sub in (listing, renew, formalize, release, returning, approve):
        add_server_flag(sub, env, default_server)
        add_tls_flags(sub, env, serving=False)
        sub.add_argument("--json", action="store_true", help="output for programs")


def _ref(args: argparse.Namespace) -> holds_pb2.HoldRef:
    bank, number = args.account
    return holds_pb2.HoldRef(case_id=args.case_id, account=common_pb2.AccountRef(bank_code=bank, number=number))


def step_by(args: argparse.Namespace, reason: str) -> holds_pb2.StepBy:
    """Who takes a step and why, with ``--request-id`` (a new one, printed, when not given)."""
    if args.request_id is None:
        args.request_id = uuid.uuid4().hex
        print(f"request id {args.request_id} (give it as --request-id to retry this step safely)", file=sys.stderr)
    return holds_pb2.StepBy(officer_id=args.officer, reason=reason, request_id=args.request_id)


def _by(args: argparse.Namespace) -> holds_pb2.StepBy:
    return step_by(args, args.reason)


def when(ts: Any) -> str:
    """A timestamp to the minute, in UTC; empty when unset."""
    return ts.ToDatetime().strftime("%Y-%m-%d %H:%M UTC") if ts.seconds else ""


def _holds_table(holds: list[holds_pb2.Hold]) -> Table:
    table = Table(title="holds")
    for column in ("case", "account", "state", "held", "stops", "freezes", "document", "expires", "warned"):
        table.add_column(column)
    for h in holds:
        state = HOLD_STATE.name(h.state)
        state += " (expired)" if h.expired and HoldState(state).live else ""
        table.add_row(
            h.case_id,
            f"{h.account.bank_code}:{h.account.number}",
            state,
            format_minor(h.held_minor),
            f"{h.stops}/{h.max_stops}",
            str(h.freezes),
            h.document.number,
            when(h.expires_at),
            when(h.warned_at),
        )
    return table


async def _call(args: argparse.Namespace, stub: holds_pb2_grpc.HoldServiceStub) -> Any:
    if args.action == "list":
        if args.account:
            bank, number = args.account
            listed = holds_pb2.ListHoldsRequest(account=common_pb2.AccountRef(bank_code=bank, number=number))
        else:
            listed = holds_pb2.ListHoldsRequest(case_id=args.case_id or "")
        return await stub.ListHolds(listed)
    if args.action == "renew":
        return await stub.RenewStop(holds_pb2.RenewStopRequest(hold=_ref(args), by=_by(args)))
    if args.action == "formalize":
        document = holds_pb2.LegalDocument(
            number=args.document,
            approver=args.approver,
            amount_minor=args.amount,
            scope=args.scope,
            interest_included=args.interest,
        )
        return await stub.Formalize(
            holds_pb2.FormalizeRequest(hold=_ref(args), by=_by(args), document=document, major=args.major)
        )
    if args.action == "release":
        return await stub.ReleaseHold(holds_pb2.ReleaseHoldRequest(hold=_ref(args), by=_by(args)))
    if args.action == "approve":
        return await stub.Approve(holds_pb2.ApproveRequest(approval_id=args.approval_id, by=_by(args)))
    bank, number = args.account
    account = common_pb2.AccountRef(bank_code=bank, number=number)
    return await stub.ReturnFunds(holds_pb2.ReturnFundsRequest(account=account, by=_by(args)))


def _awaiting(console: Console, pending: Any) -> None:
    action = APPROVAL_ACTION.name(pending.action)
    console.print(f"awaiting approval {pending.approval_id} ({action}, asked by {pending.requested_by})")
    console.print(
        f"  another officer approves it: stopay hold approve {pending.approval_id} --officer ID --reason TEXT"
    )


def _show_return(console: Console, reply: holds_pb2.ReturnFundsResponse) -> None:
    share = "direct: one victim" if reply.direct else "rateable by loss"
    due = "awaiting approval" if reply.awaiting_approval else f"paid {when(reply.due_at)}"
    console.print(
        f"returning {format_minor(reply.total_minor)} ({share}), {due}"
        + ("  [this request was taken before]" if reply.replayed else "")
    )
    table = Table()
    table.add_column("case")
    table.add_column("to its victim", justify="right")
    for part in reply.parts:
        table.add_row(part.case_id, format_minor(part.amount_minor))
    console.print(table)
    if reply.awaiting_approval:
        console.print(f"awaiting approval {reply.approval_id}")
        console.print(
            f"  another officer approves it: stopay hold approve {reply.approval_id} --officer ID --reason TEXT"
        )


def _show(reply: Any) -> None:
    console = Console(width=160, highlight=False, soft_wrap=False)
    if isinstance(reply, holds_pb2.ListHoldsResponse):
        console.print(_holds_table(list(reply.holds)))
        for hold in reply.holds:
            for pending in hold.pending:
                _awaiting(console, pending)
    elif isinstance(reply, holds_pb2.Hold):
        console.print(_holds_table([reply]))
        for pending in reply.pending:
            _awaiting(console, pending)
    elif isinstance(reply, holds_pb2.ApproveResponse):
        action = APPROVAL_ACTION.name(reply.action)
        console.print(
            f"approved {action} {reply.approval_id}: asked by {reply.requested_by}, approved by "
            f"{reply.approved_by}" + ("  [this approval was given before]" if reply.replayed else "")
        )
        if reply.HasField("hold"):
            console.print(_holds_table([reply.hold]))
        else:
            _show_return(console, reply.returned)
    else:
        _show_return(console, reply)


Call = Callable[[argparse.Namespace, holds_pb2_grpc.HoldServiceStub], Awaitable[Message]]


def run_call(args: argparse.Namespace, call: Call, show: Callable[[Any], None]) -> int:
    """One HoldService call: its reply as JSON with ``--json``, else shown by ``show``."""

    async def go() -> Message:
        async with open_channel(args) as channel:
            return await call(args, holds_pb2_grpc.HoldServiceStub(channel))

    reply = asyncio.run(go())
    if args.json:
        print(to_json(reply))
    else:
        show(reply)
    return 0


def run(args: argparse.Namespace) -> int:
    return run_call(args, _call, _show)

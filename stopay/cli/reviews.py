"""``stopay review``: the review of large freezes (list, approve, decline) over gRPC."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.table import Table

from stopay.cli.connect import add_server_flag, add_tls_flags
from stopay.cli.holds import run_call, step_by, when
from stopay.domain.money import format_minor
from stopay.v1 import holds_pb2, holds_pb2_grpc

_DECISIONS = {"approve": holds_pb2.REVIEW_DECISION_APPROVE, "decline": holds_pb2.REVIEW_DECISION_DECLINE}
_STATES = {
    holds_pb2.REVIEW_STATE_AWAITING: "awaiting",
    holds_pb2.REVIEW_STATE_APPROVED: "approved",
    holds_pb2.REVIEW_STATE_DECLINED: "declined",
}


def add_parser(commands: Any, env: Any, default_server: str) -> None:
    review = commands.add_parser("review", help="supervisors: the review of large freezes")
    actions = review.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="the cases whose freezes await review (--all: decided ones too)")
    listing.add_argument("--case", default="", metavar="CASE_ID", help="only this case's review")
    listing.add_argument("--all", action="store_true", help="decided reviews too")
    deciding = []
    for name, text in (("approve", "send all the case's waiting freezes"), ("decline", "decline them all")):
        sub = actions.add_parser(name, help=text)
        sub.add_argument("case_id")
        sub.add_argument("--reasons", required=True, help="why, for the case's audit chain")
        sub.add_argument(
            "--supervisor",
            dest="officer",
            default="",
            help="who decides (with TLS, the certificate's name: may be left out)",
        )
        sub.add_argument(
            "--request-id", default=None, help="send the same id again to retry safely (default: a new one, printed)"
        )
        deciding.append(sub)
    for sub in (listing, *deciding):
        add_server_flag(sub, env, default_server)
        add_tls_flags(sub, env, serving=False)
        sub.add_argument("--json", action="store_true", help="output for programs")


async def _call(args: argparse.Namespace, stub: holds_pb2_grpc.HoldServiceStub) -> Any:
    if args.action == "list":
        return await stub.ListReviews(holds_pb2.ListReviewsRequest(case_id=args.case, awaiting_only=not args.all))
    by = step_by(args, args.reasons)
    return await stub.DecideReview(
        holds_pb2.DecideReviewRequest(case_id=args.case_id, decision=_DECISIONS[args.action], by=by)
    )


def _table(reviews: list[holds_pb2.Review]) -> Table:
    table = Table(title="reviews of large freezes")
    for column in ("case", "report", "station", "asked", "reach then", "waiting", "state", "by", "reasons"):
        table.add_column(column)
    for r in reviews:
        table.add_row(
            r.case_id,
            r.report_no,
            r.station_id,
            when(r.requested_at),
            f"{r.accounts} accounts, {format_minor(r.amount_minor)} (limits {r.max_accounts},"
            f" {format_minor(r.max_amount_minor)})",
            f"{r.waiting_orders} freezes, {format_minor(r.waiting_minor)}",
            _STATES.get(r.state, ""),
            r.decided_by,
            r.reasons,
        )
    return table


def _show(reply: Any) -> None:
    console = Console(width=200, highlight=False, soft_wrap=False)
    if isinstance(reply, holds_pb2.ListReviewsResponse):
        console.print(_table(list(reply.reviews)))
        if not reply.reviews:
            console.print("no review awaits a decision")
        return
    console.print(_table([reply]))
    verb = "sent" if reply.state == holds_pb2.REVIEW_STATE_APPROVED else "declined"
    if reply.replayed:
        console.print("[this request was taken before]")
    else:
        console.print(f"{reply.decided_orders} waiting freeze(s), {format_minor(reply.decided_minor)}, {verb}")


def run(args: argparse.Namespace) -> int:
    return run_call(args, _call, _show)

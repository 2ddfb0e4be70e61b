"""Text for people: a case, its orders and its events, as an officer reads them."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from stopay.api.convert import HOLD_STATE
from stopay.domain.holds import HoldState
from stopay.domain.money import format_minor
from stopay.v1 import holds_pb2, station_pb2

# The orders that are not the account's freeze order say what they are beside the account.
_KIND_NOTE = {station_pb2.ORDER_KIND_RELEASE: " (release)", station_pb2.ORDER_KIND_STOP: " (stop)"}


def status_name(value: int) -> str:
    return station_pb2.OrderStatus.Name(value).removeprefix("ORDER_STATUS_").lower()  # type: ignore[arg-type]


def case_text(case: station_pb2.Case) -> str:
    cur = case.currency or "CNY"
    lines = [
        f"case {case.case_id}  ({'settled' if case.settled else 'in progress'})",
        f"  station {case.station_id}  officer {case.officer_id}  report {case.report_no}  victim {case.victim_name}",
        f"  reported {format_minor(case.reported_minor, cur)}   held {format_minor(case.held_minor, cur)}"
        f"   returned {format_minor(case.returned_minor, cur)}   exited {format_minor(case.exited_minor, cur)}"
        + (
            f"   back with victim {format_minor(case.back_with_victim_minor, cur)}"
            if case.back_with_victim_minor
            else ""
        ),
    ]
    lines += [f"  {text}" for text in link_texts(case.linked_cases, cur)]
    lines += [f"  {text}" for text in shared_texts(case.shared_accounts, cur)]
    review = review_text(case, cur)
    if review:
        lines.append(f"  {review}")
    for h in case.holds:
        until = h.expires_at.ToDatetime().strftime("%Y-%m-%d %H:%M UTC")
        state = HOLD_STATE.name(h.state)
        lasts = f" until {until}" if HoldState(state).live else ""
        lines.append(
            f"  hold {h.account.bank_code}:{h.account.number}  {state}{lasts}  "
            f"{format_minor(h.held_minor, cur)} held  stops {h.stops}/{h.max_stops}"
            + (f"  document {h.document.number}" if h.document.number else "")
        )
    if case.orders:
        rows = [("lvl", "account", "requested", "held", "status", "reason")]
        for o in case.orders:
            reason = " ".join(x for x in (o.reason_code, o.detail) if x)
            rows.append(
                (
                    str(o.level),
                    f"{o.account.bank_code}:{o.account.number} {o.account.holder_name}" + _KIND_NOTE.get(o.kind, ""),
                    format_minor(o.requested_minor, cur),
                    format_minor(o.held_minor - o.released_minor, cur),
                    status_name(o.status),
                    reason,
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for row in rows:
            lines.append(
                "  " + "  ".join(cell.ljust(widths[i]) if i < 5 else cell for i, cell in enumerate(row)).rstrip()
            )
    return "\n".join(lines)


def review_text(case: station_pb2.Case, currency: str) -> str:
    """The case's review of large freezes, in a line; empty when it has none."""
    if case.review == holds_pb2.REVIEW_STATE_AWAITING:
        return (
            f"awaiting review: {case.awaiting_review_orders} freeze(s), "
            f"{format_minor(case.awaiting_review_minor, currency)}, wait for a supervisor"
            f" (stopay review approve|decline {case.case_id} --reasons TEXT)"
        )
    if case.review == holds_pb2.REVIEW_STATE_APPROVED:
        return "review of large freezes: approved, the case freezes on"
    if case.review == holds_pb2.REVIEW_STATE_DECLINED:
        return "review of large freezes: declined, nothing more is frozen"
    return ""


def link_text(link: station_pb2.LinkedCase, currency: str) -> str:
    """One linked case: which transfer both reported, and which case traces it."""
    transfer = (
        f"transfer {link.txn_id} to {link.payee.bank_code}:{link.payee.number} "
        f"({format_minor(link.amount_minor, currency)})"
    )
    if link.traced_there:
        return f"{transfer} was reported first in case {link.case_id} (station {link.station_id}): linked, traced there"
    return f"{transfer} was reported again in case {link.case_id} (station {link.station_id}): linked, traced here"


def link_texts(links: Iterable[station_pb2.LinkedCase], currency: str) -> list[str]:
    return [link_text(link, currency) for link in links]


def shared_texts(shared: Iterable[station_pb2.SharedAccount], currency: str) -> list[str]:
    """The accounts on the trail where other cases hold money: which cases, and how much."""
    return [
        f"account {s.account.bank_code}:{s.account.number} is shared: "
        f"{format_minor(s.held_by_others_minor, currency)} held there for case(s) {', '.join(s.other_case_ids)}"
        for s in shared
    ]


def event_text(event: station_pb2.CaseEvent) -> str:
    at = event.at.ToDatetime().strftime("%H:%M:%S.%f")[:-3]
    return f"  {at}  {event.summary}"


def case_list_text(reply: station_pb2.ListCasesResponse, flags: str = "") -> str:
    """One case a line, money in yuan as in ``case show``; then how to ask for the next page: its
    token, and ``flags``, the filters the page was asked with (a token is good only with them)."""
    rows = [("case", "station", "report", "victim", "reported", "held", "state")]
    for case in reply.cases:
        cur = case.currency or "CNY"
        rows.append(
            (
                case.case_id,
                case.station_id,
                case.report_no,
                case.victim_name,
                format_minor(case.reported_minor, cur),
                format_minor(case.held_minor, cur),
                "settled" if case.settled else "in progress",
            )
        )
    money = {4, 5}  # right-aligned, so that the amounts line up
    widths = [max(_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(_pad(cell, widths[i], right=i in money) for i, cell in enumerate(row)).rstrip() for row in rows]
    if len(rows) == 1:
        lines = ["no cases"]
    if reply.next_page_token:
        lines.append(f"next page: --page-token {reply.next_page_token}" + (f" {flags}" if flags else ""))
    return "\n".join(lines)


def _width(text: str) -> int:
    """Columns on a terminal: a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * (width - _width(text))
    return gap + text if right else text + gap

"""Text for people: a case, its orders and its events, as an officer reads them."""

from __future__ import annotations

from stopay.domain.money import format_minor
from stopay.v1 import station_pb2


def status_name(value: int) -> str:
    return station_pb2.OrderStatus.Name(value).removeprefix("ORDER_STATUS_").lower()  # type: ignore[arg-type]


def case_text(case: station_pb2.Case) -> str:
    cur = case.currency or "CNY"
    lines = [
        f"case {case.case_id}  ({'settled' if case.settled else 'in progress'})",
        f"  station {case.station_id}  officer {case.officer_id}  report {case.report_no}  victim {case.victim_name}",
        f"  reported {format_minor(case.reported_minor, cur)}   held {format_minor(case.held_minor, cur)}"
        f"   returned {format_minor(case.returned_minor, cur)}   exited {format_minor(case.exited_minor, cur)}"
        + (f"   back with victim {format_minor(case.back_with_victim_minor, cur)}"
           if case.back_with_victim_minor else ""),
    ]
    for h in case.holds:
        until = h.expires_at.ToDatetime().strftime("%Y-%m-%d %H:%M UTC")
        lasts = f" until {until}" if h.state in ("stopped", "frozen") else ""
        lines.append(f"  hold {h.bank_code}:{h.account_number}  {h.state}{lasts}  "
                     f"{format_minor(h.held_minor, cur)} held  stops {h.stops}/{h.max_stops}"
                     + (f"  document {h.document.number}" if h.document.number else ""))
    if case.orders:
        rows = [("lvl", "account", "requested", "held", "status", "reason")]
        for o in case.orders:
            reason = " ".join(x for x in (o.reason_code, o.detail) if x)
            rows.append(
                (
                    str(o.level),
                    f"{o.account.bank_code}:{o.account.number} {o.account.holder_name}"
                    + (" (release)" if o.kind == station_pb2.ORDER_KIND_RELEASE else ""),
                    format_minor(o.requested_minor, cur),
                    format_minor(o.held_minor - o.released_minor, cur),
                    status_name(o.status),
                    reason,
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for row in rows:
            lines.append("  " + "  ".join(cell.ljust(widths[i]) if i < 5 else cell for i, cell in enumerate(row)).rstrip())
    return "\n".join(lines)


def event_text(event: station_pb2.CaseEvent) -> str:
    at = event.at.ToDatetime().strftime("%H:%M:%S.%f")[:-3]
    return f"  {at}  {event.summary}"

"""What the victim's screen shows of a case, from WatchCase's victim view (account numbers and
names already masked by stopay): each bank reached, each stop and freeze as it happens, and what is
held per level and in all. Amounts are integer fen, shown as yuan text here, never as floats."""

from __future__ import annotations

from stopay.domain.money import format_minor as money
from stopay.v1 import common_pb2, holds_pb2, station_pb2

SHOWN_KINDS = (station_pb2.ORDER_KIND_STOP, station_pb2.ORDER_KIND_FREEZE)


def _name(enum: object, value: int, prefix: str) -> str:
    return enum.Name(value).removeprefix(prefix).lower()  # type: ignore[attr-defined]


def case_view(case: station_pb2.Case) -> dict[str, object]:
    orders = [
        {
            "level": o.level,
            "bank_code": o.account.bank_code,
            "account": o.account.number,
            "kind": _name(station_pb2.OrderKind, o.kind, "ORDER_KIND_"),
            "status": _name(station_pb2.OrderStatus, o.status, "ORDER_STATUS_"),
            "held": money(o.held_minor) if o.held_minor else "",
        }
        for o in case.orders
        if o.kind in SHOWN_KINDS
    ]
    banks: dict[str, int] = {}
    for o in case.orders:
        if o.kind in SHOWN_KINDS and (o.attempts > 0 or o.HasField("resolved_at")):
            banks.setdefault(o.account.bank_code, 0)
    for hold in case.holds:
        banks[hold.account.bank_code] = banks.get(hold.account.bank_code, 0) + hold.held_minor
    return {
        "case_id": case.case_id,
        "settled": case.settled,
        # The case's review of large freezes: "awaiting" while freezes wait for a supervisor.
        "review": _name(holds_pb2.ReviewState, case.review, "REVIEW_STATE_") if case.review else "",
        "awaiting_orders": case.awaiting_review_orders,
        "awaiting": money(case.awaiting_review_minor),
        "reported": money(case.reported_minor),
        "held": money(case.held_minor),
        "exited": money(case.exited_minor),
        "returned": money(case.returned_minor),
        "levels": [
            {
                "level": lv.level,
                "traced": money(lv.traced_minor),
                "held": money(lv.held_minor),
                "exited": money(lv.exited_minor),
                "open": lv.open_orders,
            }
            for lv in case.levels
        ],
        "holds": [
            {"bank_code": h.account.bank_code, "account": h.account.number, "held": money(h.held_minor)}
            for h in case.holds
            if h.held_minor
        ],
        "banks": [{"bank_code": code, "held": money(held)} for code, held in sorted(banks.items())],
        "orders": orders,
        "exits": [
            {
                "level": e.level,
                "bank_code": e.account.bank_code,
                "kind": _name(common_pb2.ExitKind, e.kind, "EXIT_KIND_"),
                "amount": money(e.amount_minor),
            }
            for e in case.exits
        ],
    }

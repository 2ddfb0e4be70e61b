"""Domain read models to protobuf messages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from stopay.domain.case import CaseEvent, CaseLink, CaseView, ExitView, OrderView
from stopay.domain.entry import Party
from stopay.domain.holds import HoldView
from stopay.domain.money import format_minor
from stopay.domain.orders import OrderStatus
from stopay.v1 import common_pb2, holds_pb2, station_pb2

ORDER_STATUS = {
    OrderStatus.QUEUED: station_pb2.ORDER_STATUS_QUEUED,
    OrderStatus.PENDING: station_pb2.ORDER_STATUS_PENDING,
    OrderStatus.HELD: station_pb2.ORDER_STATUS_HELD,
    OrderStatus.PARTIALLY_HELD: station_pb2.ORDER_STATUS_PARTIALLY_HELD,
    OrderStatus.MOVED_ON: station_pb2.ORDER_STATUS_MOVED_ON,
    OrderStatus.REJECTED: station_pb2.ORDER_STATUS_REJECTED,
    OrderStatus.UNDELIVERABLE: station_pb2.ORDER_STATUS_UNDELIVERABLE,
    OrderStatus.FREEZING: station_pb2.ORDER_STATUS_FREEZING,
    OrderStatus.RELEASED: station_pb2.ORDER_STATUS_RELEASED,
    OrderStatus.EXTENDED: station_pb2.ORDER_STATUS_EXTENDED,
    OrderStatus.RETURNED: station_pb2.ORDER_STATUS_RETURNED,
}
ORDER_KIND = {
    "freeze": station_pb2.ORDER_KIND_FREEZE,
    "release": station_pb2.ORDER_KIND_RELEASE,
    "extend": station_pb2.ORDER_KIND_EXTEND,
    "return": station_pb2.ORDER_KIND_RETURN,
}


def timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def order_message(order: OrderView) -> station_pb2.FreezeOrder:
    return station_pb2.FreezeOrder(
        order_id=str(order.order_id),
        parent_order_id=str(order.parent_order_id) if order.parent_order_id else "",
        level=order.level,
        account=common_pb2.AccountRef(
            bank_code=order.bank_code, number=order.account_number, holder_name=order.holder_name
        ),
        requested_minor=order.requested_minor,
        held_minor=order.held_minor,
        status=ORDER_STATUS[order.status],
        reason_code=order.reason_code,
        created_at=timestamp(order.created_at),
        resolved_at=timestamp(order.resolved_at),
        incoming_txn_ids=list(order.incoming_txn_ids),
        attempts=order.attempts,
        detail=order.detail,
        currency=order.currency,
        asked_minor=order.asked_minor,
        kind=ORDER_KIND[order.kind],
        released_minor=order.released_minor,
        incoming=[
            station_pb2.IncomingTransfer(
                txn_id=i.txn_id,
                amount_minor=i.amount_minor,
                traced_minor=i.traced_minor,
                transferred_at=timestamp(i.at),
                payer=_account(i.payer),
            )
            for i in order.incoming
        ],
    )


def _account(party: Party) -> common_pb2.AccountRef:
    return common_pb2.AccountRef(bank_code=party.bank_code, number=party.number, holder_name=party.holder_name)


def exit_message(flow: ExitView) -> station_pb2.ExitFlow:
    return station_pb2.ExitFlow(
        txn_id=flow.txn_id,
        kind=flow.kind,
        amount_minor=flow.amount_minor,
        exited_at=timestamp(flow.exited_at),
        account=common_pb2.AccountRef(bank_code=flow.bank_code, number=flow.account_number),
        order_id=str(flow.order_id),
        level=flow.level,
    )


def linked_case_message(link: CaseLink) -> station_pb2.LinkedCase:
    return station_pb2.LinkedCase(
        case_id=str(link.case_id),
        txn_id=link.txn_id,
        payee=_account(link.payee),
        payer=_account(link.payer),
        station_id=link.station_id,
        created_at=timestamp(link.created_at),
        amount_minor=link.amount_minor,
        traced_there=link.traced_there,
    )


def hold_message(hold: HoldView) -> holds_pb2.Hold:
    doc = hold.document
    return holds_pb2.Hold(
        case_id=str(hold.case_id),
        bank_code=hold.bank_code,
        account_number=hold.account_number,
        state=hold.state,
        held_minor=hold.held_minor,
        stops=hold.stops,
        max_stops=hold.max_stops,
        freezes=hold.freezes,
        major=hold.major,
        document=holds_pb2.LegalDocument(**doc) if doc else None,
        stopped_at=timestamp(hold.stopped_at),
        expires_at=timestamp(hold.expires_at),
        warned_at=timestamp(hold.warned_at),
        return_due_at=timestamp(hold.return_due_at),
        ended_at=timestamp(hold.ended_at),
        end_reason=hold.end_reason,
        expired=hold.expired,
        pending=[_pending(p) for p in hold.pending or ()],
    )


def _pending(asked: dict[str, Any]) -> holds_pb2.PendingApproval:
    doc = asked.get("document")
    return holds_pb2.PendingApproval(
        approval_id=asked["approval_id"],
        action=asked["action"],
        requested_by=asked["requested_by"],
        reason=asked["reason"],
        requested_at=timestamp(datetime.fromisoformat(asked["requested_at"])),
        document=holds_pb2.LegalDocument(**doc) if doc else None,
        major=asked["major"],
        amount_minor=asked["amount_minor"],
    )


def case_message(case: CaseView) -> station_pb2.Case:
    return station_pb2.Case(
        case_id=str(case.case_id),
        entry_id=case.entry_id,
        station_id=case.station_id,
        orders=[order_message(o) for o in case.orders],
        reported_minor=case.reported_minor,
        held_minor=case.held_minor,
        exited_minor=case.exited_minor,
        settled=case.settled,
        officer_id=case.officer_id,
        report_no=case.report_no,
        victim_name=case.victim_name,
        fraud_type=station_pb2.FraudType.ValueType(case.fraud_type),
        created_at=timestamp(case.created_at),
        currency=case.currency,
        order_count=case.order_count,
        unresolved_minor=case.unresolved_minor,
        rule=case.rule,
        max_depth=case.max_depth,
        min_amount=case.min_amount,
        levels=[
            station_pb2.LevelTotals(
                level=t.level,
                traced_minor=t.traced_minor,
                held_minor=t.held_minor,
                exited_minor=t.exited_minor,
                orders=t.orders,
                open_orders=t.open_orders,
                returned_minor=t.returned_minor,
                back_with_victim_minor=t.back_with_victim_minor,
            )
            for t in case.levels()
        ],
        exits=[exit_message(x) for x in case.exits],
        returned_minor=case.returned_minor,
        holds=[hold_message(h) for h in case.holds],
        back_with_victim_minor=case.back_with_victim_minor,
        linked_cases=[linked_case_message(link) for link in case.links],
    )


def _summary(event: CaseEvent, currency: str) -> str:
    detail = event.detail

    def money(key: str) -> str:
        return format_minor(int(detail.get(key) or 0), currency)

    if event.kind == "case.accepted":
        return f"case accepted, {money('reported_minor')} reported"
    if event.kind == "order.queued":
        return f"freeze request queued for {detail.get('bank_code')}, {money('requested_minor')} requested"
    if event.kind == "order.traced":
        return (
            f"statement in: {money('left_minor')} of the victim's money left here, freezing "
            f"{money('freeze_minor')}, {detail.get('onward', 0)} transfer(s) to follow, "
            f"{detail.get('exits', 0)} exit(s)"
        )
    if event.kind == "order.followed":
        return f"following {money('traced_minor')} to {detail.get('bank_code')} (level {detail.get('level')})"
    if event.kind == "follow.limited":
        which = (
            "fan-out limit reached"
            if detail.get("limit") == "fanout"
            else f"order limit of the case reached ({detail.get('max_orders')} orders)"
        )
        return (
            f"{which}: {detail.get('unfollowed')} debits not followed, {money('unresolved_minor')} "
            f"({detail.get('unresolved_minor', 0)} fen) unresolved"
        )
    if event.kind == "order.retried":
        return f"retried by an operator (retry of order {detail.get('retry_of')})"
    if event.kind == "release.queued":
        return (
            f"giving back {money('amount_minor')} held in excess at {detail.get('bank_code')} "
            f"(the victim's money there is {money('left_minor')})"
        )
    if event.kind == "order.released":
        return f"released: {money('released_minor')} given back"
    if event.kind.startswith(("hold.", "return.", "funds.")):
        return _hold_summary(event, money)
    if event.kind == "transfer.linked":
        return (
            f"transfer {detail.get('txn_id')} to {detail.get('bank_code')} ({money('amount_minor')}) was "
            f"reported first in case {detail.get('linked_case_id')}: linked, traced there"
        )
    if event.kind == "transfer.reported_again":
        return (
            f"transfer {detail.get('txn_id')} to {detail.get('bank_code')} was reported again in case "
            f"{detail.get('linked_case_id')} (station {detail.get('station_id')}): linked, traced here"
        )
    if event.kind == "exit.recorded":
        return f"{money('amount_minor')} left the banking network ({detail.get('kind')})"
    if event.kind == "exit.withdrawn":
        return f"a fuller statement shows none of the victim's money left by {detail.get('txn_id')}"
    if event.kind == "back_with_victim.recorded":
        return f"{money('amount_minor')} paid back to an account the victim paid from"
    if event.kind == "back_with_victim.withdrawn":
        return f"a fuller statement shows none of the victim's money paid back by {detail.get('txn_id')}"
    if event.kind == "order.retry_scheduled":
        return f"delivery attempt {detail.get('attempts')} failed: {detail.get('detail')}"
    if event.kind.startswith("order."):
        reason = f" ({detail['reason_code']})" if detail.get("reason_code") else ""
        return f"{event.kind[6:].replace('_', ' ')}: {money('held_minor')} held{reason}"
    return event.kind


def _hold_summary(event: CaseEvent, money: Callable[[str], str]) -> str:
    detail = event.detail
    where = detail.get("bank_code", "")
    until = f" until {detail['expires_at']}" if detail.get("expires_at") else ""
    reason = f": {detail['reason']}" if detail.get("reason") else ""
    texts = {
        "hold.stopped": f"emergency stop at {where}, {money('held_minor')} held for {detail.get('period_hours')} hours",
        "hold.renewed": f"emergency stop at {where} renewed ({detail.get('stops')} stops){until}{reason}",
        "hold.formalized": f"formal freeze at {where} under document "
        f"{(detail.get('document') or {}).get('number', '')}{until}{reason}",
        "hold.freeze_renewed": f"formal freeze at {where} renewed under document "
        f"{(detail.get('document') or {}).get('number', '')}{until}{reason}",
        "hold.expiring": f"the {detail.get('state')} hold at {where} expires at {detail.get('expires_at')}",
        "hold.released": f"hold at {where} released, account unrelated{reason}",
        "hold.lapsed": f"hold at {where} lapsed: not renewed before it expired",
        "hold.returning": f"returning {money('paid_minor')} held at {where} ({detail.get('share')})",
        "hold.returned": f"hold at {where} returned in full",
        "return.planned": f"{money('part_minor')} of {money('total_minor')} held at {where} is to be returned "
        f"to the victim ({detail.get('share')}, due {detail.get('due_at')})",
        "return.notice_ended": f"the return notice for {where} ended; {money('amount_minor')} is being paid",
        "funds.returned": f"{money('amount_minor')} returned to the victim from {where}",
    }
    return texts.get(event.kind, event.kind)


def event_message(event: CaseEvent, currency: str) -> station_pb2.CaseEvent:
    return station_pb2.CaseEvent(
        seq=event.seq,
        at=timestamp(event.at),
        kind=event.kind,
        order_id=str(event.order_id) if event.order_id else "",
        actor=event.actor,
        summary=_summary(event, currency),
    )

"""Domain read models to protobuf messages, and the one table per proto enum between the names the
domain and the store use and the enum's numbers."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Generic, TypeVar

from google.protobuf.timestamp_pb2 import Timestamp

from stopay.domain.case import CaseEvent, CaseLink, CaseView, ExitView, OrderView
from stopay.domain.confirmation import ConfirmationMethod, how_confirmed
from stopay.domain.entry import Party
from stopay.domain.holds import HoldState, HoldView
from stopay.domain.money import format_minor
from stopay.domain.objections import ObjectionDecision, ObjectionState, ObjectionVia, ObjectionView
from stopay.domain.orders import OrderKind, OrderStatus
from stopay.domain.review import ReviewState, ReviewView
from stopay.domain.trail import BACK_WITH_VICTIM
from stopay.v1 import audit_pb2, common_pb2, gateway_pb2, holds_pb2, station_pb2

V = TypeVar("V", bound=int)


class EnumTable(Generic[V]):
    """One table between the names the domain and the store give a state or kind and the numbers of a
    proto enum, both ways. A name or number missing from the table is an error, never a silent
    zero: a value added on one side only fails the first test that meets it."""

    def __init__(self, what: str, enum_type: Any, pairs: Mapping[str, V]) -> None:
        self.what = what
        self._numbers = dict(pairs)
        self._names: dict[int, str] = {number: name for name, number in pairs.items()}
        if len(self._names) != len(self._numbers):
            raise ValueError(f"{what}: two names share a number")
        unmapped = set(enum_type.values()) - set(self._names) - {0}
        if unmapped:
            raise ValueError(f"{what}: no name for {sorted(enum_type.Name(n) for n in unmapped)}")

    def number(self, name: str | enum.Enum) -> V:
        """The proto number of a domain name (a str-valued enum member is read by its value)."""
        key = name.value if isinstance(name, enum.Enum) else name
        try:
            return self._numbers[key]
        except KeyError:
            raise ValueError(f"unknown {self.what} {key!r}; known: {', '.join(self._numbers)}") from None

    def name(self, number: int) -> str:
        """The domain name of a proto number; ValueError for 0 (unspecified) or an unknown number."""
        try:
            return self._names[number]
        except KeyError:
            raise ValueError(f"no {self.what} numbered {number}") from None

    def names(self) -> tuple[str, ...]:
        return tuple(self._numbers)

    def numbers(self) -> frozenset[int]:
        return frozenset(self._names)


CONFIRMATION_METHOD = EnumTable(
    "confirmation method",
    station_pb2.ConfirmationMethod,
    {
        ConfirmationMethod.DUAL_SCREEN.value: station_pb2.CONFIRMATION_METHOD_DUAL_SCREEN,
        ConfirmationMethod.SIGNED_FORM.value: station_pb2.CONFIRMATION_METHOD_SIGNED_FORM,
        ConfirmationMethod.RECORDED_CALL.value: station_pb2.CONFIRMATION_METHOD_RECORDED_CALL,
    },
)
ORDER_STATUS = EnumTable(
    "order status",
    station_pb2.OrderStatus,
    {
        OrderStatus.QUEUED.value: station_pb2.ORDER_STATUS_QUEUED,
        OrderStatus.PENDING.value: station_pb2.ORDER_STATUS_PENDING,
        OrderStatus.HELD.value: station_pb2.ORDER_STATUS_HELD,
        OrderStatus.PARTIALLY_HELD.value: station_pb2.ORDER_STATUS_PARTIALLY_HELD,
        OrderStatus.MOVED_ON.value: station_pb2.ORDER_STATUS_MOVED_ON,
        OrderStatus.REJECTED.value: station_pb2.ORDER_STATUS_REJECTED,
        OrderStatus.UNDELIVERABLE.value: station_pb2.ORDER_STATUS_UNDELIVERABLE,
        OrderStatus.FREEZING.value: station_pb2.ORDER_STATUS_FREEZING,
        OrderStatus.RELEASED.value: station_pb2.ORDER_STATUS_RELEASED,
        OrderStatus.EXTENDED.value: station_pb2.ORDER_STATUS_EXTENDED,
        OrderStatus.RETURNED.value: station_pb2.ORDER_STATUS_RETURNED,
        OrderStatus.AWAITING_REVIEW.value: station_pb2.ORDER_STATUS_AWAITING_REVIEW,
        OrderStatus.DECLINED.value: station_pb2.ORDER_STATUS_DECLINED,
    },
)
REVIEW_STATE = EnumTable(
    "review state",
    holds_pb2.ReviewState,
    {
        ReviewState.AWAITING.value: holds_pb2.REVIEW_STATE_AWAITING,
        ReviewState.APPROVED.value: holds_pb2.REVIEW_STATE_APPROVED,
        ReviewState.DECLINED.value: holds_pb2.REVIEW_STATE_DECLINED,
    },
)
ORDER_KIND = EnumTable(
    "order kind",
    station_pb2.OrderKind,
    {
        "freeze": station_pb2.ORDER_KIND_FREEZE,
        "release": station_pb2.ORDER_KIND_RELEASE,
        "extend": station_pb2.ORDER_KIND_EXTEND,
        "return": station_pb2.ORDER_KIND_RETURN,
        "stop": station_pb2.ORDER_KIND_STOP,
    },
)
# The trail's ends: the banks' exit kinds, UNKNOWN when a bank did not say, and BACK_WITH_VICTIM.
EXIT_KIND = EnumTable(
    "exit kind",
    common_pb2.ExitKind,
    {
        "CASH": common_pb2.EXIT_KIND_CASH,
        "ATM": common_pb2.EXIT_KIND_ATM,
        "MERCHANT": common_pb2.EXIT_KIND_MERCHANT,
        "CRYPTO": common_pb2.EXIT_KIND_CRYPTO,
        "CROSS_BORDER": common_pb2.EXIT_KIND_CROSS_BORDER,
        "THIRD_PARTY_PAYMENT": common_pb2.EXIT_KIND_THIRD_PARTY_PAYMENT,
        "UNKNOWN": common_pb2.EXIT_KIND_UNKNOWN,
        BACK_WITH_VICTIM: common_pb2.EXIT_KIND_BACK_WITH_VICTIM,
    },
)
ATTRIBUTION_RULE = EnumTable(
    "attribution rule",
    station_pb2.AttributionRule,
    {
        "fifo": station_pb2.ATTRIBUTION_RULE_FIFO,
        "lifo": station_pb2.ATTRIBUTION_RULE_LIFO,
        "pro_rata": station_pb2.ATTRIBUTION_RULE_PRO_RATA,
        "libr": station_pb2.ATTRIBUTION_RULE_LIBR,
        "taint_first": station_pb2.ATTRIBUTION_RULE_TAINT_FIRST,
    },
)
EVENT_KIND = EnumTable(
    "event kind",
    station_pb2.EventKind,
    {
        "case.accepted": station_pb2.EVENT_KIND_CASE_ACCEPTED,
        "order.queued": station_pb2.EVENT_KIND_ORDER_QUEUED,
        "order.traced": station_pb2.EVENT_KIND_ORDER_TRACED,
        "order.followed": station_pb2.EVENT_KIND_ORDER_FOLLOWED,
        "follow.limited": station_pb2.EVENT_KIND_FOLLOW_LIMITED,
        "order.retried": station_pb2.EVENT_KIND_ORDER_RETRIED,
        "order.retry_scheduled": station_pb2.EVENT_KIND_ORDER_RETRY_SCHEDULED,
        "order.freezing": station_pb2.EVENT_KIND_ORDER_FREEZING,
        "order.pending": station_pb2.EVENT_KIND_ORDER_PENDING,
        "order.held": station_pb2.EVENT_KIND_ORDER_HELD,
        "order.partially_held": station_pb2.EVENT_KIND_ORDER_PARTIALLY_HELD,
        "order.moved_on": station_pb2.EVENT_KIND_ORDER_MOVED_ON,
        "order.rejected": station_pb2.EVENT_KIND_ORDER_REJECTED,
        "order.undeliverable": station_pb2.EVENT_KIND_ORDER_UNDELIVERABLE,
        "order.released": station_pb2.EVENT_KIND_ORDER_RELEASED,
        "order.extended": station_pb2.EVENT_KIND_ORDER_EXTENDED,
        "order.returned": station_pb2.EVENT_KIND_ORDER_RETURNED,
        "release.queued": station_pb2.EVENT_KIND_RELEASE_QUEUED,
        "hold.stopped": station_pb2.EVENT_KIND_HOLD_STOPPED,
        "hold.renewed": station_pb2.EVENT_KIND_HOLD_RENEWED,
        "hold.formalized": station_pb2.EVENT_KIND_HOLD_FORMALIZED,
        "hold.freeze_renewed": station_pb2.EVENT_KIND_HOLD_FREEZE_RENEWED,
        "hold.expiring": station_pb2.EVENT_KIND_HOLD_EXPIRING,
        "hold.released": station_pb2.EVENT_KIND_HOLD_RELEASED,
        "hold.lapsed": station_pb2.EVENT_KIND_HOLD_LAPSED,
        "hold.returning": station_pb2.EVENT_KIND_HOLD_RETURNING,
        "hold.returned": station_pb2.EVENT_KIND_HOLD_RETURNED,
        "return.planned": station_pb2.EVENT_KIND_RETURN_PLANNED,
        "return.notice_ended": station_pb2.EVENT_KIND_RETURN_NOTICE_ENDED,
        "funds.returned": station_pb2.EVENT_KIND_FUNDS_RETURNED,
        "transfer.linked": station_pb2.EVENT_KIND_TRANSFER_LINKED,
        "transfer.reported_again": station_pb2.EVENT_KIND_TRANSFER_REPORTED_AGAIN,
        "exit.recorded": station_pb2.EVENT_KIND_EXIT_RECORDED,
        "exit.withdrawn": station_pb2.EVENT_KIND_EXIT_WITHDRAWN,
        "back_with_victim.recorded": station_pb2.EVENT_KIND_BACK_WITH_VICTIM_RECORDED,
        "back_with_victim.withdrawn": station_pb2.EVENT_KIND_BACK_WITH_VICTIM_WITHDRAWN,
        "approval.requested": station_pb2.EVENT_KIND_APPROVAL_REQUESTED,
        "approval.granted": station_pb2.EVENT_KIND_APPROVAL_GRANTED,
        "account.held_for_other_case": station_pb2.EVENT_KIND_ACCOUNT_HELD_FOR_OTHER_CASE,
        "objection.filed": station_pb2.EVENT_KIND_OBJECTION_FILED,
        "objection.due_soon": station_pb2.EVENT_KIND_OBJECTION_DUE_SOON,
        "objection.escalated": station_pb2.EVENT_KIND_OBJECTION_ESCALATED,
        "objection.decided": station_pb2.EVENT_KIND_OBJECTION_DECIDED,
        "review.requested": station_pb2.EVENT_KIND_REVIEW_REQUESTED,
        "review.approved": station_pb2.EVENT_KIND_REVIEW_APPROVED,
        "review.declined": station_pb2.EVENT_KIND_REVIEW_DECLINED,
        "order.awaiting_review": station_pb2.EVENT_KIND_ORDER_AWAITING_REVIEW,
        "order.declined": station_pb2.EVENT_KIND_ORDER_DECLINED,
    },
)
HOLD_STATE = EnumTable(
    "hold state",
    holds_pb2.HoldState,
    {
        HoldState.STOPPED.value: holds_pb2.HOLD_STATE_STOPPED,
        HoldState.FROZEN.value: holds_pb2.HOLD_STATE_FROZEN,
        HoldState.RELEASED.value: holds_pb2.HOLD_STATE_RELEASED,
        HoldState.LAPSED.value: holds_pb2.HOLD_STATE_LAPSED,
        HoldState.RETURNING.value: holds_pb2.HOLD_STATE_RETURNING,
        HoldState.RETURNED.value: holds_pb2.HOLD_STATE_RETURNED,
    },
)
# Why a hold ended; a hold that has not ended has no reason ("" <-> unspecified).
HOLD_END_REASON = EnumTable(
    "hold end reason",
    holds_pb2.HoldEndReason,
    {
        "": holds_pb2.HOLD_END_REASON_UNSPECIFIED,
        "unrelated": holds_pb2.HOLD_END_REASON_UNRELATED,
        "expired": holds_pb2.HOLD_END_REASON_EXPIRED,
        "returned": holds_pb2.HOLD_END_REASON_RETURNED,
    },
)
APPROVAL_ACTION = EnumTable(
    "approval action",
    holds_pb2.ApprovalAction,
    {"formalize": holds_pb2.APPROVAL_ACTION_FORMALIZE, "return": holds_pb2.APPROVAL_ACTION_RETURN},
)
# camt.029 answer codes a bank reports on BankGateway.
ANSWER_STATUS = EnumTable(
    "answer status",
    gateway_pb2.AnswerStatus,
    {
        "ACCR": gateway_pb2.ANSWER_STATUS_ACCR,
        "PECR": gateway_pb2.ANSWER_STATUS_PECR,
        "PDCR": gateway_pb2.ANSWER_STATUS_PDCR,
        "RJCR": gateway_pb2.ANSWER_STATUS_RJCR,
    },
)
LINE_KIND = EnumTable(
    "statement line kind",
    gateway_pb2.LineKind,
    {"credit": gateway_pb2.LINE_KIND_CREDIT, "debit": gateway_pb2.LINE_KIND_DEBIT},
)
CHAIN_PROBLEM = EnumTable(
    "chain problem",
    audit_pb2.ChainProblem,
    {
        "hash mismatch": audit_pb2.CHAIN_PROBLEM_HASH_MISMATCH,
        "prev_hash mismatch": audit_pb2.CHAIN_PROBLEM_PREV_HASH_MISMATCH,
        "head mismatch": audit_pb2.CHAIN_PROBLEM_HEAD_MISMATCH,
        "missing events": audit_pb2.CHAIN_PROBLEM_MISSING_EVENTS,
    },
)


def account_ref(bank_code: str, number: str, holder_name: str = "") -> common_pb2.AccountRef:
    return common_pb2.AccountRef(bank_code=bank_code, number=number, holder_name=holder_name)


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
        status=ORDER_STATUS.number(order.status),
        reason_code=order.reason_code,
        created_at=timestamp(order.created_at),
        resolved_at=timestamp(order.resolved_at),
        incoming_txn_ids=list(order.incoming_txn_ids),
        attempts=order.attempts,
        detail=order.detail,
        currency=order.currency,
        asked_minor=order.asked_minor,
        kind=ORDER_KIND.number(order.kind),
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
        kind=EXIT_KIND.number(flow.kind),
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


_OBJECTION_VIA = {
    ObjectionVia.BANK: holds_pb2.OBJECTION_VIA_BANK,
    ObjectionVia.STATION: holds_pb2.OBJECTION_VIA_STATION,
}
_OBJECTION_DECISION = {
    ObjectionDecision.RELEASE: holds_pb2.OBJECTION_DECISION_RELEASE,
    ObjectionDecision.KEEP: holds_pb2.OBJECTION_DECISION_KEEP,
    ObjectionDecision.RELEASE_PART: holds_pb2.OBJECTION_DECISION_RELEASE_PART,
}


def objection_message(objection: ObjectionView) -> holds_pb2.Objection:
    return holds_pb2.Objection(
        objection_id=str(objection.objection_id),
        hold=holds_pb2.HoldRef(
            case_id=str(objection.case_id), account=account_ref(objection.bank_code, objection.account_number)
        ),
        holder_name=objection.holder_name,
        via=_OBJECTION_VIA[objection.via],
        taken_by=objection.taken_by,
        grounds=objection.grounds,
        documents=list(objection.documents),
        filed_at=timestamp(objection.filed_at),
        due_at=timestamp(objection.due_at),
        warned_at=timestamp(objection.warned_at),
        escalated_at=timestamp(objection.escalated_at),
        open=objection.state is ObjectionState.OPEN,
        overdue=objection.overdue,
        decision=_OBJECTION_DECISION[objection.decision]
        if objection.decision
        else holds_pb2.OBJECTION_DECISION_UNSPECIFIED,
        reasons=objection.reasons,
        decided_by=objection.decided_by,
        decided_at=timestamp(objection.decided_at),
        request_id=objection.request_id,
        replayed=objection.replayed,
        released_minor=objection.released_minor,
    )


def hold_message(hold: HoldView) -> holds_pb2.Hold:
    doc = hold.document
    return holds_pb2.Hold(
        case_id=str(hold.case_id),
        account=account_ref(hold.bank_code, hold.account_number),
        state=HOLD_STATE.number(hold.state),
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
        end_reason=HOLD_END_REASON.number(hold.end_reason),
        expired=hold.expired,
        pending=[_pending(p) for p in hold.pending or ()],
    )


def _pending(asked: dict[str, Any]) -> holds_pb2.PendingApproval:
    doc = asked.get("document")
    return holds_pb2.PendingApproval(
        approval_id=asked["approval_id"],
        action=APPROVAL_ACTION.number(asked["action"]),
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
        rule=ATTRIBUTION_RULE.number(case.rule),
        max_depth=case.max_depth,
        min_amount_minor=case.min_amount,
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
        shared_accounts=[
            station_pb2.SharedAccount(
                account=common_pb2.AccountRef(
                    bank_code=s.bank_code, number=s.account_number, holder_name=s.holder_name
                ),
                other_case_ids=[str(c) for c in s.other_case_ids],
                held_by_others_minor=s.held_by_others_minor,
            )
            for s in case.shared
        ],
        review=holds_pb2.REVIEW_STATE_UNSPECIFIED if case.review is None else REVIEW_STATE.number(case.review),
        awaiting_review_orders=case.awaiting_review_orders,
        awaiting_review_minor=case.awaiting_review_minor,
    )


def review_message(review: ReviewView) -> holds_pb2.Review:
    return holds_pb2.Review(
        case_id=str(review.case_id),
        report_no=review.report_no,
        station_id=review.station_id,
        state=REVIEW_STATE.number(review.state),
        requested_at=timestamp(review.requested_at),
        accounts=review.accounts,
        amount_minor=review.amount_minor,
        max_accounts=review.max_accounts,
        max_amount_minor=review.max_amount_minor,
        waiting_orders=review.waiting_orders,
        waiting_minor=review.waiting_minor,
        decided_by=review.decided_by or "",
        decided_at=timestamp(review.decided_at),
        reasons=review.reasons or "",
        request_id=review.request_id or "",
        replayed=review.replayed,
        decided_orders=review.decided_orders,
        decided_minor=review.decided_minor,
    )


def _summary(event: CaseEvent, currency: str) -> str:
    detail = event.detail

    def money(key: str) -> str:
        return format_minor(int(detail.get(key) or 0), currency)

    if event.kind == "case.accepted":
        confirmation = detail.get("confirmation")
        confirmed = f", confirmed by the victim {how_confirmed(confirmation)}" if isinstance(confirmation, dict) else ""
        return f"case accepted, {money('reported_minor')} reported{confirmed}"
    if event.kind == "order.queued":
        if detail.get("kind") == OrderKind.STOP:  # stop first: the freeze asked at once, beside the statement
            return f"emergency stop queued for {detail.get('bank_code')}, {money('requested_minor')} to freeze at once"
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
    if event.kind.startswith("objection."):
        return _objection_summary(event)
    if event.kind.startswith("review.") or event.kind in ("order.awaiting_review", "order.declined"):
        return _review_summary(event, money)
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
    if event.kind == "account.held_for_other_case":
        others = detail.get("others") or []
        names = ", ".join(str(o.get("case_id")) for o in others if isinstance(o, dict))
        return (
            f"the trail reached {detail.get('bank_code')} account {detail.get('account')}, where "
            f"{len(others)} other case(s) hold {money('held_by_others_minor')}: {names}"
        )
    if event.kind == "order.retry_scheduled":
        return f"delivery attempt {detail.get('attempts')} failed: {detail.get('detail')}"
    if event.kind.startswith("order."):
        reason = f" ({detail['reason_code']})" if detail.get("reason_code") else ""
        return f"{event.kind[6:].replace('_', ' ')}: {money('held_minor')} held{reason}"
    return event.kind


def _review_summary(event: CaseEvent, money: Callable[[str], str]) -> str:
    detail = event.detail
    texts = {
        "review.requested": f"the case's freezes passed the review's thresholds ({detail.get('accounts')} accounts, "
        f"{money('amount_minor')} held or in flight; at most {detail.get('max_accounts')} accounts and "
        f"{money('max_amount_minor')}): further freezes await a supervisor's review",
        "review.approved": f"a supervisor approved the large freeze: {detail.get('orders')} waiting freeze(s), "
        f"{money('amount_minor')}, go out ({detail.get('reasons')})",
        "review.declined": f"a supervisor declined the large freeze: {detail.get('orders')} waiting freeze(s), "
        f"{money('amount_minor')}, are not asked, nor any after ({detail.get('reasons')})",
        "order.awaiting_review": f"freeze at {detail.get('bank_code')} awaits review: "
        f"{money('freeze_minor') if detail.get('freeze_minor') else money('requested_minor')}",
        "order.declined": f"freeze at {detail.get('bank_code')} not asked: the case's large freeze was declined",
    }
    return texts.get(event.kind, event.kind)


def _released(detail: dict[str, Any]) -> str:
    """What a release or partial release gave back and kept, as an objection.decided event says."""
    if detail.get("decision") != "release_part":
        return ""
    return f", {format_minor(detail['released_minor'])} released, {format_minor(detail['kept_minor'])} still held"


def _objection_summary(event: CaseEvent) -> str:
    detail = event.detail
    where = detail.get("bank_code", "")
    texts = {
        "objection.filed": f"the holder objected to the hold at {where} (via {detail.get('via')}, taken by "
        f"{detail.get('taken_by')}); a decision is due by {detail.get('due_at')}",
        "objection.due_soon": f"the objection to the hold at {where} is due a decision by {detail.get('due_at')}",
        "objection.escalated": f"the objection to the hold at {where} was not decided by {detail.get('due_at')}; "
        "escalated to the supervisor and the center",
        "objection.decided": f"the objection to the hold at {where} was decided: {detail.get('decision')}"
        f"{_released(detail)} ({detail.get('reasons')})",
    }
    return texts.get(event.kind, event.kind)


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
        kind=EVENT_KIND.number(event.kind),
        order_id=str(event.order_id) if event.order_id else "",
        actor=event.actor,
        summary=_summary(event, currency),
    )

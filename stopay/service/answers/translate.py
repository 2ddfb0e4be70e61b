"""Between the store and the adapters: claimed orders become bank requests, bank answers and
statements become what the store and the domain understand."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from bank_adapters.protocol import (
    Account,
    ExtendAnswer,
    ExtendRequest,
    FreezeAnswer,
    FreezeRequest,
    HoldChange,
    IncomingTransfer,
    LegalDocument,
    ReleaseAnswer,
    ReleaseRequest,
    ReturnAnswer,
    ReturnRequest,
    Statement,
    StatementLine,
    StatementRequest,
)
from stopay.domain.entry import Party
from stopay.domain.orders import OrderStatus, UnknownAnswer, status_for_answer
from stopay.domain.trail import Line
from stopay.store.orders import ClaimedOrder, Outcome


def merge_incoming(known: dict[str, dict[str, Any]], items: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Incoming transfers by txn_id, the newest knowledge of each (highest ``rev``) winning."""
    merged = dict(known)
    for item in items:
        current = merged.get(item["txn_id"])
        if current is None or item.get("rev", 0) >= current.get("rev", 0):
            merged[item["txn_id"]] = item
    return merged


def known_incoming(order: ClaimedOrder) -> list[dict[str, Any]]:
    """Every transfer known to carry the victim's money into the order's account, oldest first."""
    items = merge_incoming(order.known_incoming, order.incoming)
    return sorted(items.values(), key=lambda i: (i["at"], i["txn_id"]))


def _incoming(order: ClaimedOrder) -> tuple[IncomingTransfer, ...]:
    return tuple(
        IncomingTransfer(
            txn_id=item["txn_id"],
            amount_minor=item["amount_minor"],
            transferred_at=datetime.fromisoformat(item["at"]),
            payer=Account(item["payer_bank"], item["payer_number"], item["payer_holder"]),
        )
        for item in known_incoming(order)
    )


def _account(order: ClaimedOrder) -> Account:
    return Account(order.bank_code, order.account_number, order.holder_name)


def statement_request(order: ClaimedOrder) -> StatementRequest:
    return StatementRequest(
        idempotency_key=f"{order.idempotency_key}/statement",
        case_id=str(order.case_id),
        order_id=str(order.order_id),
        level=order.level,
        account=_account(order),
        currency=order.currency,
        incoming=_incoming(order),
    )


def freeze_request(order: ClaimedOrder) -> FreezeRequest:
    assert order.freeze_minor is not None, "an order is sized before it is frozen"
    return FreezeRequest(
        idempotency_key=order.idempotency_key,
        case_id=str(order.case_id),
        order_id=str(order.order_id),
        level=order.level,
        account=_account(order),
        amount_minor=order.freeze_minor,
        currency=order.currency,
        incoming=_incoming(order),
    )


def statement_json(statement: Statement | None) -> dict[str, Any] | None:
    """The statement as JSON-ready data, field by field as the dataclasses name them: the exit as
    its code, times as ISO 8601. Written out rather than through ``dataclasses.asdict``, which
    deep-copies every value first: this runs for every statement and every freeze answer kept."""
    if statement is None:
        return None
    return {
        "opening_balance_minor": statement.opening_balance_minor,
        "lines": [_line_json(line) for line in statement.lines],
    }


def _line_json(line: StatementLine) -> dict[str, Any]:
    party = line.counterparty
    return {
        "seq": line.seq,
        "at": line.at.isoformat(),
        "kind": line.kind,
        "amount_minor": line.amount_minor,
        "txn_id": line.txn_id,
        "counterparty": (
            None
            if party is None
            else {"bank_code": party.bank_code, "number": party.number, "holder_name": party.holder_name}
        ),
        "exit": None if line.exit is None else line.exit.value,
    }


def statement_lines(statement: Statement) -> tuple[Line, ...]:
    return tuple(
        Line(
            seq=line.seq,
            at=line.at,
            kind=line.kind,
            amount_minor=line.amount_minor,
            txn_id=line.txn_id,
            counterparty=(
                Party(line.counterparty.bank_code, line.counterparty.number, line.counterparty.holder_name)
                if line.counterparty
                else None
            ),
            exit=line.exit.value if line.exit is not None else None,
        )
        for line in statement.lines
    )


def release_request(order: ClaimedOrder) -> ReleaseRequest:
    return ReleaseRequest(
        idempotency_key=order.idempotency_key,
        case_id=str(order.case_id),
        order_id=str(order.order_id),
        account=_account(order),
        amount_minor=order.requested_minor,
        currency=order.currency,
        reason=str(order.params.get("reason", "excess")),
    )


def extend_request(order: ClaimedOrder) -> ExtendRequest:
    document = order.params.get("document")
    return ExtendRequest(
        idempotency_key=order.idempotency_key,
        case_id=str(order.case_id),
        order_id=str(order.order_id),
        account=_account(order),
        amount_minor=order.requested_minor,
        currency=order.currency,
        change=HoldChange(order.params["change"]),
        until=datetime.fromisoformat(order.params["until"]),
        document=LegalDocument(**document) if document else None,
    )


def return_request(order: ClaimedOrder) -> ReturnRequest:
    payee = order.params["beneficiary"]
    return ReturnRequest(
        idempotency_key=order.idempotency_key,
        case_id=str(order.case_id),
        order_id=str(order.order_id),
        account=_account(order),
        amount_minor=order.requested_minor,
        currency=order.currency,
        beneficiary=Account(payee["bank_code"], payee["number"], payee.get("holder_name", "")),
    )


def _answered(
    order: ClaimedOrder,
    answer: ReleaseAnswer | ExtendAnswer | ReturnAnswer,
    amount: int,
    done: OrderStatus,
    words: str,
    moves_money: bool,
) -> Outcome:
    """The outcome of a release, an extension or a return: ``RJCR`` refuses it, ``ACCR`` does it with
    ``amount`` (given back, kept held, or paid), which can be no more than the order asked.
    Raises UnknownAnswer for anything else (the order is then asked again)."""
    code = answer.status.value
    if code == "RJCR":
        status = OrderStatus.REJECTED
    elif code == "ACCR" and 0 <= amount <= order.requested_minor:
        status = done
    else:
        raise UnknownAnswer(words.format(code=code, amount=amount))
    return Outcome(
        case_id=order.case_id,
        order_id=order.order_id,
        status=status,
        released_minor=amount if moves_money and status == done else 0,
        reason_code=answer.reason_code,
        detail=str(answer.extra.get("detail", "")),
        answer_code=code,
        bank_reference=answer.bank_reference,
    )


def release_outcome(order: ClaimedOrder, answer: ReleaseAnswer) -> Outcome:
    return _answered(
        order,
        answer,
        answer.released_minor,
        OrderStatus.RELEASED,
        "release answer {code} with {amount} released",
        moves_money=True,
    )


def return_outcome(order: ClaimedOrder, answer: ReturnAnswer) -> Outcome:
    return _answered(
        order,
        answer,
        answer.returned_minor,
        OrderStatus.RETURNED,
        "return answer {code} with {amount} paid",
        moves_money=True,
    )


def extend_outcome(order: ClaimedOrder, answer: ExtendAnswer) -> Outcome:
    outcome = _answered(
        order,
        answer,
        answer.held_minor,
        OrderStatus.EXTENDED,
        "extend answer {code} with {amount} held",
        moves_money=False,
    )
    if outcome.status == OrderStatus.EXTENDED and not outcome.detail:
        outcome = replace(outcome, detail=f"the bank holds {answer.held_minor} under it")
    return outcome


def freeze_outcome(order: ClaimedOrder, answer: FreezeAnswer, recheck_s: float = 0.0) -> Outcome:
    """Raises UnknownAnswer when the answer makes no sense for the order (it is then retried)."""
    code = answer.status.value
    status = status_for_answer(code, answer.held_minor, order.freeze_minor or 0, order.requested_minor)
    return Outcome(
        case_id=order.case_id,
        order_id=order.order_id,
        status=status,
        held_minor=answer.held_minor,
        reason_code=answer.reason_code,
        detail=str(answer.extra.get("detail", "")),
        answer_code=code,
        balance_minor=answer.balance_minor,
        bank_reference=answer.bank_reference,
        statement=statement_json(answer.statement),
        recheck_s=recheck_s if status == OrderStatus.PENDING else 0.0,
    )

"""Turns a claimed order into an adapter's FreezeRequest, and a bank's answer into an Outcome."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from bank_adapters.protocol import Account, FreezeAnswer, FreezeRequest, IncomingTransfer, Statement
from stopay.domain.orders import status_for_answer
from stopay.store.orders import ClaimedOrder, Outcome


def freeze_request(order: ClaimedOrder) -> FreezeRequest:
    return FreezeRequest(
        idempotency_key=order.idempotency_key,
        case_id=str(order.case_id),
        order_id=str(order.order_id),
        level=order.level,
        account=Account(order.bank_code, order.account_number, order.holder_name),
        amount_minor=order.requested_minor,
        currency=order.currency,
        incoming=tuple(
            IncomingTransfer(
                txn_id=item["txn_id"],
                amount_minor=item["amount_minor"],
                transferred_at=datetime.fromisoformat(item["at"]),
                payer=Account(item["payer_bank"], item["payer_number"], item["payer_holder"]),
            )
            for item in order.incoming
        ),
    )


def statement_json(statement: Statement | None) -> dict[str, Any] | None:
    """The statement as JSON-ready data: enums as their codes, times as ISO 8601."""
    if statement is None:
        return None

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        if isinstance(value, datetime):
            return value.isoformat()
        return getattr(value, "value", value)

    return plain(asdict(statement))


def outcome(order: ClaimedOrder, answer: FreezeAnswer) -> Outcome:
    """Raises UnknownAnswer when the answer makes no sense for the order (it is then retried)."""
    code = answer.status.value if hasattr(answer.status, "value") else str(answer.status)
    status = status_for_answer(code, answer.held_minor, order.requested_minor)
    return Outcome(
        case_id=order.case_id,
        order_id=order.order_id,
        status=status,
        held_minor=answer.held_minor,
        reason_code=answer.reason_code,
        answer_code=code,
        balance_minor=answer.balance_minor,
        bank_reference=answer.bank_reference,
        statement=statement_json(answer.statement),
    )

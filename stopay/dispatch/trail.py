"""Follows the money: applies a batch of bank statements to what stopay knows of each account.

For each statement, under a lock on the account's knowledge row, the domain's trail step decides
how much to freeze there and which transfers to follow on; the orders that follow them, the exits,
the statement itself (kept as evidence) and the events are written in the same transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from bank_adapters.protocol import AnswerStatus, StatementAnswer
from stopay.dispatch.translate import known_incoming, statement_json, statement_lines
from stopay.domain.attribution import Parts
from stopay.domain.orders import OrderStatus, settled_status
from stopay.domain.trail import Known, Limits, StatementTooShort, Step, step
from stopay.store.orders import ClaimedOrder, Retry
from stopay.store.trail import AccountRow, TrailChanges, trail_transaction


@dataclass(frozen=True, slots=True)
class Traced:
    order: ClaimedOrder
    answer: StatementAnswer


def _parts(raw: Any) -> Parts:
    return tuple((str(name), int(amount)) for name, amount in raw)


def _key(order: ClaimedOrder) -> tuple[uuid.UUID, str, str]:
    return (order.case_id, order.bank_code, order.account_number)


def _merge_incoming(row: AccountRow, order: ClaimedOrder) -> dict[str, dict[str, Any]]:
    merged = dict(row.incoming)
    for item in known_incoming(order):
        current = merged.get(item["txn_id"])
        if current is None or item.get("rev", 0) >= current.get("rev", 0):
            merged[item["txn_id"]] = item
    return merged


async def apply_statements(pool: asyncpg.Pool, owner: str, batch: list[Traced], actor: str) -> list[Retry]:
    """Applies the statements in one transaction; returns the orders to ask again."""
    retries: list[Retry] = []
    accounts = [
        {"case_id": str(t.order.case_id), "bank_code": t.order.bank_code, "account_number": t.order.account_number,
         "holder_name": t.order.holder_name, "level": t.order.level}
        for t in batch
    ]
    async with trail_transaction(pool, owner, actor) as tx:
        rows, leased = await tx.lock(accounts, [(t.order.case_id, t.order.order_id) for t in batch])
        changes = TrailChanges()
        touched: dict[tuple[uuid.UUID, str, str], AccountRow] = {}
        for item in batch:
            order = item.order
            if order.order_id not in leased:
                continue  # another replica took it over; it will apply its own answer
            row = rows[_key(order)]
            retry = _apply_one(item, row, changes)
            if retry is not None:
                retries.append(retry)
            else:
                touched[row.key] = row
        for row in touched.values():
            changes.accounts.append(
                {"case_id": str(row.case_id), "bank_code": row.bank_code, "account_number": row.account_number,
                 "incoming": row.incoming, "sent": row.sent, "rev": row.rev, "left_minor": row.left_minor,
                 "in_flight_minor": row.in_flight_minor, "level": row.level, "gaps": {}}
            )
        await tx.apply(changes)
    return retries


def _apply_one(item: Traced, row: AccountRow, changes: TrailChanges) -> Retry | None:
    order, answer = item.order, item.answer
    case_id = str(order.case_id)
    if answer.status == AnswerStatus.RJCR:
        detail = str(answer.extra.get("detail", ""))
        changes.orders.append(
            {"case_id": case_id, "order_id": str(order.order_id), "status": OrderStatus.REJECTED.value,
             "freeze_minor": None, "reason_code": answer.reason_code, "detail": detail}
        )
        changes.answers.append(_answer(order, answer))
        changes.events.append(_event(order, "order.rejected", {"reason_code": answer.reason_code, "detail": detail}))
        return None
    if answer.status != AnswerStatus.ACCR or answer.statement is None:
        return Retry(order.case_id, order.order_id, 1.0, f"statement answer not understood: {answer.status.value}")
    incoming = _merge_incoming(row, order)
    known = Known(
        labelled={txn: _parts(i["parts"]) for txn, i in incoming.items()},
        sent={txn: _parts(parts) for txn, parts in row.sent.items()},
        held_minor=row.held_minor,
        in_flight_minor=row.in_flight_minor,
    )
    limits = Limits(order.rule, order.max_depth, order.min_amount)
    try:
        result = step(known, answer.statement.opening_balance_minor, statement_lines(answer.statement), limits)
    except StatementTooShort as exc:
        return Retry(order.case_id, order.order_id, 0.0, str(exc))

    row.rev += 1
    row.incoming = incoming
    row.sent = {txn: [list(p) for p in parts] for txn, parts in result.sent.items()}
    row.left_minor = result.left_minor
    row.in_flight_minor += result.freeze_minor
    row.level = min(row.level, order.level)
    changes.events.append(
        _event(order, "order.traced", {"left_minor": result.left_minor, "freeze_minor": result.freeze_minor,
                                       "onward": len(result.onward), "exits": len(result.exits),
                                       "gaps": result.gaps})
    )
    _follow(order, row, result, changes)
    if result.freeze_minor > 0:
        status, detail = OrderStatus.FREEZING, ""
    else:
        status = settled_status(0, order.requested_minor)
        detail = "already held for this case" if result.left_minor else "none of the victim's money is left here"
    changes.orders.append(
        {"case_id": case_id, "order_id": str(order.order_id), "status": status.value,
         "freeze_minor": result.freeze_minor or None, "reason_code": "", "detail": detail}
    )
    changes.answers.append(_answer(order, answer))
    if status != OrderStatus.FREEZING:
        changes.events.append(_event(order, f"order.{status.value}", {"held_minor": 0, "detail": detail}))
    return None


def _follow(order: ClaimedOrder, row: AccountRow, result: Step, changes: TrailChanges) -> None:
    case_id = str(order.case_id)
    for onward in result.onward:
        account = onward.account
        order_id = uuid.uuid5(order.case_id, f"{onward.txn_id}:{row.rev}:{account.bank_code}:{account.number}")
        changes.onward.append(
            {"case_id": case_id, "order_id": str(order_id), "parent_order_id": str(order.order_id),
             "level": onward.level, "bank_code": account.bank_code, "account_number": account.number,
             "holder_name": account.holder_name, "currency": order.currency, "requested_minor": onward.new_minor,
             "incoming": [{"txn_id": onward.txn_id, "amount_minor": onward.amount_minor,
                           "at": onward.at.isoformat(), "payer_bank": order.bank_code,
                           "payer_number": order.account_number, "payer_holder": order.holder_name,
                           "parts": [list(p) for p in onward.parts], "rev": row.rev}]}
        )
        changes.events.append(
            _event(order, "order.followed", {"bank_code": account.bank_code, "txn_id": onward.txn_id,
                                              "traced_minor": onward.traced_minor, "level": onward.level,
                                              "order_id": str(order_id)})
        )
    for flow in result.exits:
        changes.exits.append(
            {"case_id": case_id, "txn_id": flow.txn_id, "order_id": str(order.order_id),
             "bank_code": order.bank_code, "account_number": order.account_number, "level": row.level,
             "exit_kind": flow.kind, "amount_minor": flow.amount_minor, "exited_at": flow.at.isoformat()}
        )
        changes.events.append(
            _event(order, "exit.recorded", {"txn_id": flow.txn_id, "kind": flow.kind, "amount_minor": flow.amount_minor})
        )


def _answer(order: ClaimedOrder, answer: StatementAnswer) -> dict[str, Any]:
    return {"case_id": str(order.case_id), "order_id": str(order.order_id), "status_code": answer.status.value,
            "balance_minor": answer.balance_minor, "reason_code": answer.reason_code,
            "bank_reference": answer.bank_reference, "statement": statement_json(answer.statement)}


def _event(order: ClaimedOrder, kind: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {"case_id": str(order.case_id), "kind": kind, "order_id": str(order.order_id), "detail": detail}


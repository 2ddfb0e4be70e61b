"""Applies a batch of bank answers to the trail, each under a lock on its account's knowledge row.

* A statement: the domain's trail step decides how much of the victim's money is at the account,
  what to freeze there (or give back), which transfers to follow on, and which exits to record,
  correct or withdraw (money paid to an account the victim paid from is recorded the same way, as
  back with the victim).
* A freeze answered: what it holds is held, it is no longer in flight; if a fuller view meanwhile
  showed less of the victim's money there, the excess is given back.
* A release answered: what it gave back is no longer held.
* A return answered: what it paid to the victim is no longer held; once a returning hold has paid
  all it held, the hold is returned. An extension answered changes no money.
* The first money a case holds on an account starts its hold there, an emergency stop.
* A rejection or a delivery given up settles the order.
* A statement opens at most ``max_fanout`` orders, and a case at most ``max_orders``: transfers
  beyond are not followed, and a ``follow.limited`` event says how many and how much money stays
  unresolved.

The orders that follow, the bank answers (statements included, kept as evidence) and the events are
written in the same transaction, so a crash leaves either all of it or none.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
import structlog

from bank_adapters.protocol import AnswerStatus, StatementAnswer
from stopay.answers.translate import known_incoming, merge_incoming, statement_json, statement_lines
from stopay.domain.accounts import AccountKey
from stopay.domain.attribution import Parts
from stopay.domain.holds import HoldPolicy, HoldState, return_completes, starts_hold, statement_within_hold
from stopay.domain.orders import OrderStatus, settled_status
from stopay.domain.trail import BACK_WITH_VICTIM, Known, Limits, StatementTooShort, Step, reconcile, step
from stopay.store.orders import ClaimedOrder, Outcome, Retry
from stopay.store.trail import AccountRow, LeasedOrder, TrailChanges, trail_transaction

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Traced:
    """A statement came back for an order in its statement phase."""

    order: ClaimedOrder
    answer: StatementAnswer


@dataclass(frozen=True, slots=True)
class Settled:
    """A freeze or release came back, or the order could not be delivered or was refused."""

    order: ClaimedOrder
    outcome: Outcome


Answer = Traced | Settled


def _key(order: ClaimedOrder) -> tuple[uuid.UUID, str, str]:
    return (order.case_id, order.bank_code, order.account_number)


async def apply_answers(
    pool: asyncpg.Pool,
    owner: str,
    batch: list[Answer],
    retry_after: Callable[[int], float],
    actor: str = "dispatcher",
    policy: HoldPolicy = HoldPolicy(),
    caps: Limits = Limits(),
) -> list[Retry]:
    """Applies the answers in one transaction; returns the orders to ask again (after
    ``retry_after(attempts)`` seconds). ``caps`` gives the bounds on orders (``max_orders``,
    ``max_fanout``); the tracing policy is each case's own. Only answers to the claim an order is under now are applied:
    a late answer to an earlier claim, or a second answer to the same claim, changes nothing."""
    accounts = [
        {
            "case_id": str(a.order.case_id),
            "bank_code": a.order.bank_code,
            "account_number": a.order.account_number,
            "holder_name": a.order.holder_name,
            "level": a.order.level,
        }
        for a in batch
    ]
    claims = [(a.order.case_id, a.order.order_id, a.order.attempts) for a in batch]
    # A return pays another case's victim: that case's chain gets an event too.
    payees = [uuid.UUID(a.order.params["beneficiary_case"]) for a in batch if a.order.kind == "return"]
    retries: list[Retry] = []
    async with trail_transaction(pool, owner, actor, policy) as tx:
        rows, leased = await tx.lock(accounts, claims, payees)
        work = _Batch(rows, retry_after, policy, caps)
        for item in batch:
            current = leased.pop(item.order.order_id, None)  # popped: one answer per claim
            if current is None:
                continue  # another replica took it over, or it was applied already
            retry = work.apply(item, current, rows[_key(item.order)])
            if retry is not None:
                retries.append(retry)
        await tx.apply(work.finish())
    return retries


class _Batch:
    """Collects the changes of one batch; rows are updated in memory as answers are applied, so two
    answers about one account in a batch see each other."""

    def __init__(
        self,
        rows: dict[tuple[uuid.UUID, str, str], AccountRow],
        retry_after: Callable[[int], float],
        policy: HoldPolicy,
        caps: Limits = Limits(),
    ) -> None:
        self.rows = rows
        self.policy = policy
        self.caps = caps
        # Freeze orders this batch opens, by case (the rows' counts are from before the batch).
        self.opened: dict[uuid.UUID, int] = {}
        self.retry_after = retry_after
        self.changes = TrailChanges()
        self.touched: dict[tuple[uuid.UUID, str, str], AccountRow] = {}
        # Debits larger than the balance a statement showed (data gaps), by account, latest first.
        self.gaps: dict[tuple[uuid.UUID, str, str], dict[str, int]] = {}

    def apply(self, item: Answer, current: LeasedOrder, row: AccountRow) -> Retry | None:
        """Applies one answer; an answer that cannot be applied is asked again, never lost."""
        try:
            if isinstance(item, Traced):
                return self.statement(item, row)
            self.settle(item, current, row)
            return None
        except Exception as exc:  # a bank's nonsense (an overdrawn statement, say) must not stop the others
            log.exception("trail.answer_not_applied", order_id=str(item.order.order_id))
            return self.retry(item.order, f"answer could not be applied: {type(exc).__name__}: {exc}")

    def retry(self, order: ClaimedOrder, detail: str) -> Retry:
        return Retry(order.case_id, order.order_id, order.attempts, self.retry_after(order.attempts), detail)

    def finish(self) -> TrailChanges:
        # Two statements of one account in a batch may both show an exit: the later knows best.
        self.changes.exits = list(
            {(x["case_id"], x["bank_code"], x["account_number"], x["txn_id"]): x for x in self.changes.exits}.values()
        )
        for row in self.touched.values():
            self.changes.accounts.append(
                {
                    "case_id": str(row.case_id),
                    "bank_code": row.bank_code,
                    "account_number": row.account_number,
                    "incoming": row.incoming,
                    "sent": row.sent,
                    "rev": row.rev,
                    "left_minor": row.left_minor,
                    "held_minor": row.held_minor,
                    "in_flight_minor": row.in_flight_minor,
                    "releasing_minor": row.releasing_minor,
                    "level": row.level,
                    "gaps": self.gaps.get(row.key),
                    "seen_at": row.seen_at.isoformat() if row.seen_at else None,
                    "seen_seq": row.seen_seq,
                }
            )
        return self.changes

    # ---- statements --------------------------------------------------------------------------

    def statement(self, item: Traced, row: AccountRow) -> Retry | None:
        order, answer = item.order, item.answer
        if answer.status == AnswerStatus.RJCR:
            detail = str(answer.extra.get("detail", ""))
            self._order(order, OrderStatus.REJECTED, reason_code=answer.reason_code, detail=detail)
            self._answer(
                order, answer.status.value, answer.reason_code, answer.bank_reference, balance=answer.balance_minor
            )
            self._event(order, "order.rejected", {"reason_code": answer.reason_code, "detail": detail})
            return None
        if answer.status != AnswerStatus.ACCR or answer.statement is None:
            return self.retry(order, f"statement answer not understood: {answer.status.value}")
        lines = statement_lines(answer.statement)
        newest = max(((line.at, line.seq) for line in lines), default=None)
        if newest is not None and row.seen_at is not None and newest < (row.seen_at, row.seen_seq or 0):
            # Older than a statement already applied (a slow answer, another replica's): it would
            # undo a fuller view. Ask again.
            return self.retry(order, "statement older than one already applied; asking again")
        incoming = merge_incoming(row.incoming, known_incoming(order))
        known = Known(
            labelled={txn: _parts(i["parts"]) for txn, i in incoming.items()},
            sent={txn: _parts(parts) for txn, parts in row.sent.items()},
            exited={txn: int(amount) for txn, amount in row.exited.items()},
            held_minor=row.held_minor,
            in_flight_minor=row.in_flight_minor,
            releasing_minor=row.releasing_minor,
        )
        limits = Limits(order.rule, order.max_depth, order.min_amount, self.caps.max_orders, self.caps.max_fanout)
        room = limits.max_orders - row.case_orders - self.opened.get(order.case_id, 0)
        try:
            victim = frozenset(AccountKey(bank, number) for bank, number in row.victim_accounts)
            result = step(known, answer.statement.opening_balance_minor, lines, limits, victim, room)
        except StatementTooShort as exc:
            return self.retry(order, str(exc))
        result = _within_hold(result, row)

        row.rev += 1
        row.incoming = incoming
        row.sent = {txn: [list(p) for p in parts] for txn, parts in result.sent.items()}
        row.left_minor = result.left_minor
        row.in_flight_minor += result.freeze_minor
        row.level = min(row.level, order.level)
        if newest is not None:
            row.seen_at, row.seen_seq = newest
        self.touched[row.key] = row
        self.gaps[row.key] = result.gaps
        self._answer(
            order,
            answer.status.value,
            "",
            answer.bank_reference,
            balance=answer.balance_minor,
            statement=statement_json(answer.statement),
        )
        self._event(
            order,
            "order.traced",
            {
                "left_minor": result.left_minor,
                "freeze_minor": result.freeze_minor,
                "onward": len(result.onward),
                "exits": len(result.exits),
                "gaps": result.gaps,
                "unfollowed": len(result.unfollowed),
            },
        )
        self._follow(order, row, result)
        if result.unfollowed:
            self._limited(order, result, limits)
        if result.freeze_minor > 0:
            self._order(order, OrderStatus.FREEZING, freeze_minor=result.freeze_minor)
        else:
            status = settled_status(0, order.requested_minor)
            detail = "already held for this case" if result.left_minor else "none of the victim's money is left here"
            self._order(order, status, detail=detail)
            self._event(order, f"order.{status.value}", {"held_minor": 0, "detail": detail})
        if result.release_minor > 0:
            self._release(order, row, result.release_minor)
        return None

    def _limited(self, order: ClaimedOrder, result: Step, limits: Limits) -> None:
        """Records the transfers a limit left unfollowed: their money stays unresolved on the case."""
        detail = {
            "limit": result.limit,
            "unfollowed": len(result.unfollowed),
            "unresolved_minor": result.unfollowed_minor,
            "followed": len(result.onward),
            "max_fanout": limits.max_fanout,
            "max_orders": limits.max_orders,
            "txn_ids": [o.txn_id for o in result.unfollowed[:20]],
        }
        self._event(order, "follow.limited", detail)
        log.warning(
            "trail.follow_limited",
            order_id=str(order.order_id),
            limit=result.limit,
            unfollowed=len(result.unfollowed),
            unresolved_minor=result.unfollowed_minor,
        )

    def _follow(self, order: ClaimedOrder, row: AccountRow, result: Step) -> None:
        self.opened[order.case_id] = self.opened.get(order.case_id, 0) + len(result.onward)
        for onward in result.onward:
            account = onward.account
            order_id = uuid.uuid5(order.case_id, f"{onward.txn_id}:{row.rev}:{account.bank_code}:{account.number}")
            self._create(
                order,
                order_id,
                "freeze",
                onward.level,
                account.bank_code,
                account.number,
                account.holder_name,
                onward.new_minor,
                [
                    {
                        "txn_id": onward.txn_id,
                        "amount_minor": onward.amount_minor,
                        "at": onward.at.isoformat(),
                        "payer_bank": order.bank_code,
                        "payer_number": order.account_number,
                        "payer_holder": order.holder_name,
                        "parts": [list(p) for p in onward.parts],
                        "rev": row.rev,
                    }
                ],
            )
            self._event(
                order,
                "order.followed",
                {
                    "bank_code": account.bank_code,
                    "txn_id": onward.txn_id,
                    "traced_minor": onward.traced_minor,
                    "level": onward.level,
                    "order_id": str(order_id),
                },
            )
        for flow in result.exits:
            if flow.amount_minor:
                row.exited[flow.txn_id] = flow.amount_minor
            else:
                row.exited.pop(flow.txn_id, None)
            self.changes.exits.append(
                {
                    "case_id": str(order.case_id),
                    "txn_id": flow.txn_id,
                    "order_id": str(order.order_id),
                    "bank_code": order.bank_code,
                    "account_number": order.account_number,
                    "level": row.level,
                    "exit_kind": flow.kind,
                    "amount_minor": flow.amount_minor,
                    "exited_at": flow.at.isoformat(),
                }
            )
            kind = "back_with_victim" if flow.kind == BACK_WITH_VICTIM else "exit"
            self._event(
                order,
                f"{kind}.recorded" if flow.amount_minor else f"{kind}.withdrawn",
                {"txn_id": flow.txn_id, "kind": flow.kind, "amount_minor": flow.amount_minor},
            )

    # ---- freezes, releases, failures ----------------------------------------------------------

    def settle(self, item: Settled, current: LeasedOrder, row: AccountRow) -> None:
        order, outcome = item.order, item.outcome
        status = outcome.status
        if current.kind in ("release", "return"):
            row.releasing_minor -= current.requested_minor
            row.held_minor -= outcome.released_minor
        elif current.status in ("freezing", "pending"):
            asked = current.freeze_minor or 0
            if status != OrderStatus.PENDING:
                row.in_flight_minor -= asked
                row.held_minor += outcome.held_minor
        self.touched[row.key] = row
        self._hold(order, row, current, outcome)
        self._order(
            order,
            status,
            held_minor=outcome.held_minor,
            released_minor=outcome.released_minor,
            reason_code=outcome.reason_code,
            detail=outcome.detail,
            recheck_s=outcome.recheck_s,
        )
        if outcome.answer_code is not None:
            self._answer(
                order,
                outcome.answer_code,
                outcome.reason_code,
                outcome.bank_reference,
                balance=outcome.balance_minor,
                held=outcome.held_minor,
                statement=outcome.statement,
            )
        self._event(
            order,
            f"order.{status.value}",
            {
                "held_minor": outcome.held_minor,
                "released_minor": outcome.released_minor,
                "asked_minor": current.freeze_minor,
                "reason_code": outcome.reason_code,
                "detail": outcome.detail,
            },
        )
        if current.kind == "freeze" and current.status in ("freezing", "pending") and status != OrderStatus.PENDING:
            # Meanwhile a fuller view may have shown less of the victim's money here.
            _, release = reconcile(row.left_minor, row.held_minor, row.in_flight_minor, row.releasing_minor)
            if release > 0:
                self._release(order, row, release)

    def _release(self, order: ClaimedOrder, row: AccountRow, amount: int) -> None:
        row.rev += 1
        row.releasing_minor += amount
        self.touched[row.key] = row
        order_id = uuid.uuid5(order.case_id, f"release:{row.bank_code}:{row.account_number}:{row.rev}")
        self._create(
            order, order_id, "release", row.level, row.bank_code, row.account_number, row.holder_name, amount, []
        )
        self._event(
            order,
            "release.queued",
            {
                "bank_code": row.bank_code,
                "amount_minor": amount,
                "left_minor": row.left_minor,
                "order_id": str(order_id),
            },
        )

    def _hold(self, order: ClaimedOrder, row: AccountRow, current: LeasedOrder, outcome: Outcome) -> None:
        """Starts the case's hold on the account with the first money held there; ends a returning
        hold once it has paid out all it held; tells the paid victim's case of a return."""
        if current.kind == "freeze" and starts_hold(HoldState.of(row.hold_state), row.held_minor):
            row.hold_state = HoldState.STOPPED
            self.changes.holds.append(
                {
                    "case_id": str(row.case_id),
                    "bank_code": row.bank_code,
                    "account_number": row.account_number,
                    "op": "stop",
                }
            )
            self._event(
                order,
                "hold.stopped",
                {
                    "bank_code": row.bank_code,
                    "held_minor": row.held_minor,
                    "period_hours": self.policy.stop_hours,
                    "max_stops": self.policy.max_stops,
                },
            )
        if current.kind != "return":
            return
        if outcome.released_minor:
            payee = order.params["beneficiary_case"]
            self.changes.events.append(
                {
                    "case_id": payee,
                    "kind": "funds.returned",
                    "order_id": str(order.order_id),
                    "detail": {
                        "amount_minor": outcome.released_minor,
                        "bank_code": row.bank_code,
                        "from_case": str(order.case_id),
                        "share": order.params.get("share", ""),
                        "beneficiary_bank": order.params.get("beneficiary", {}).get("bank_code", ""),
                    },
                }
            )
        if return_completes(HoldState.of(row.hold_state), row.held_minor, row.releasing_minor):
            row.hold_state = HoldState.RETURNED
            self.changes.holds.append(
                {
                    "case_id": str(row.case_id),
                    "bank_code": row.bank_code,
                    "account_number": row.account_number,
                    "op": "returned",
                }
            )
            self._event(order, "hold.returned", {"bank_code": row.bank_code})

    # ---- rows to write ----------------------------------------------------------------------

    def _order(
        self,
        order: ClaimedOrder,
        status: OrderStatus,
        *,
        freeze_minor: int | None = None,
        held_minor: int = 0,
        released_minor: int = 0,
        reason_code: str = "",
        detail: str = "",
        recheck_s: float = 0.0,
    ) -> None:
        self.changes.orders.append(
            {
                "case_id": str(order.case_id),
                "order_id": str(order.order_id),
                "status": status.value,
                "freeze_minor": freeze_minor,
                "held_minor": held_minor,
                "released_minor": released_minor,
                "reason_code": reason_code,
                "detail": detail,
                "recheck_s": recheck_s,
            }
        )

    def _create(
        self,
        parent: ClaimedOrder,
        order_id: uuid.UUID,
        kind: str,
        level: int,
        bank_code: str,
        number: str,
        holder: str,
        requested: int,
        incoming: list[dict[str, Any]],
    ) -> None:
        self.changes.created.append(
            {
                "case_id": str(parent.case_id),
                "order_id": str(order_id),
                "parent_order_id": str(parent.order_id),
                "kind": kind,
                "level": level,
                "bank_code": bank_code,
                "account_number": number,
                "holder_name": holder,
                "currency": parent.currency,
                "requested_minor": requested,
                "incoming": incoming,
            }
        )

    def _answer(
        self,
        order: ClaimedOrder,
        code: str,
        reason: str,
        reference: str,
        *,
        balance: int | None = None,
        held: int = 0,
        statement: dict[str, Any] | None = None,
    ) -> None:
        self.changes.answers.append(
            {
                "case_id": str(order.case_id),
                "order_id": str(order.order_id),
                "status_code": code,
                "held_minor": held,
                "balance_minor": balance,
                "reason_code": reason,
                "bank_reference": reference,
                "statement": statement,
            }
        )

    def _event(self, order: ClaimedOrder, kind: str, detail: dict[str, Any]) -> None:
        self.changes.events.append(
            {"case_id": str(order.case_id), "kind": kind, "order_id": str(order.order_id), "detail": detail}
        )


def _within_hold(result: Step, row: AccountRow) -> Step:
    """What a statement may change where the case's hold has moved on (domain.holds.statement_within_hold)."""
    kept = statement_within_hold(
        HoldState.of(row.hold_state),
        row.hold_cap,
        result.left_minor,
        row.held_minor,
        row.in_flight_minor,
        row.releasing_minor,
    )
    if kept is None:
        return result
    return replace(result, left_minor=kept.left_minor, freeze_minor=kept.freeze_minor, release_minor=kept.release_minor)


def _parts(raw: Any) -> Parts:
    return tuple((str(name), int(amount)) for name, amount in raw)

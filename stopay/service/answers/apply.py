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
* Stop first: each order that follows the money on goes with a stop, which freezes at once what the
  followed transfer carried of the victim's money; nothing a stop held is judged (given back) while
  a statement of the account is still due. Once a release on an account is answered, or a freeze
  there held less than it asked after one was, every case short of its victim's money there asks
  again (:mod:`stopay.service.answers.top_up`, in a transaction of its own after this one).

* Repeat accounts: where other cases hold money at an answered order's account (read before the
  batch, without a lock, so the lock order stays trail rows, holds, chain heads), the case records
  each of them once there (``account.held_for_other_case``), and a stop or freeze that held less
  than it asked names them in its detail.

The orders that follow, the bank answers (statements included, kept as evidence) and the events are
written in the same transaction, so a crash leaves either all of it or none.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

from bank_adapters.protocol import AnswerStatus, StatementAnswer
from stopay.domain.accounts import AccountKey, CaseAccount, held_elsewhere_note, held_for_other_case
from stopay.domain.attribution import parts_from_json
from stopay.domain.holds import HoldPolicy, HoldState
from stopay.domain.orders import OrderKind, OrderStatus, asks_statement, freeze_out, settled_status, stop_of
from stopay.domain.review import Gate, Reach, admit, gate
from stopay.domain.settlement import (
    ask_again_after_refusal,
    judged,
    return_completes,
    settle,
    starts_hold,
    top_up,
    within_hold,
)
from stopay.domain.trail import BACK_WITH_VICTIM, Known, Limits, StatementTooShort, Step, step
from stopay.service.answers.translate import known_incoming, merge_incoming, statement_json, statement_lines
from stopay.store import metrics
from stopay.store.errors import StoreError
from stopay.store.orders import Claim, ClaimedOrder, Outcome, Retry
from stopay.store.trail import (
    AccountRow,
    AccountToLock,
    AnswerRecord,
    EventRecord,
    ExitChange,
    HeldElsewhere,
    HoldOp,
    HoldOpRow,
    LeasedOrder,
    NewOrder,
    OrderChange,
    ReviewRequest,
    TrailChanges,
    account_change,
    rows_at,
    trail_transaction,
)

log = structlog.get_logger(__name__)

DEFAULT_POLICY = HoldPolicy()
DEFAULT_CAPS = Limits()


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


def _key(order: ClaimedOrder) -> CaseAccount:
    return CaseAccount(order.case_id, order.bank_code, order.account_number)


async def apply_answers(
    pool: asyncpg.Pool,
    owner: str | None,  # the replica whose claims these answer; None: a bank calling back, any claim
    batch: list[Answer],
    retry_after: Callable[[int], float],
    actor: str = "dispatcher",
    policy: HoldPolicy = DEFAULT_POLICY,
    caps: Limits = DEFAULT_CAPS,
    first_hold: Callable[[float], None] | None = None,
) -> list[Retry]:
    """Applies the answers in one transaction; returns the orders to ask again (after
    ``retry_after(attempts)`` seconds). ``caps`` gives the bounds on orders (``max_orders``,
    ``max_fanout``); the tracing policy is each case's own. Only answers to the claim an order is under now are applied:
    a late answer to an earlier claim, or a second answer to the same claim, changes nothing. With
    ``owner`` None (a bank calling back), the answer applies to an order waiting for its freeze
    answer whoever leases it. Once the transaction has committed, ``first_hold`` is told the seconds
    from the entry to each case's first hold it started (the metrics)."""
    accounts = [
        AccountToLock(a.order.case_id, a.order.bank_code, a.order.account_number, a.order.holder_name, a.order.level)
        for a in batch
    ]
    claims = [Claim(a.order.case_id, a.order.order_id, a.order.attempts) for a in batch]
    # A return pays another case's victim: that case's chain gets an event too.
    payees = [uuid.UUID(a.order.params["beneficiary_case"]) for a in batch if a.order.kind is OrderKind.RETURN]
    retries: list[Retry] = []
    async with trail_transaction(pool, owner, actor, policy) as tx:
        rows, leased = await tx.lock(accounts, claims, payees)
        # A read (no lock): the lock order stays trail rows, holds, chain heads.
        elsewhere = {
            CaseAccount(f.case_id, f.bank_code, f.account_number): f
            for f in await tx.held_elsewhere(sorted({_key(a.order) for a in batch}))
        }
        work = _Batch(rows, retry_after, policy, caps, elsewhere, tx.reach)
        answered: dict[CaseAccount, ClaimedOrder] = {}
        for item in batch:
            current = leased.pop(item.order.order_id, None)  # popped: one answer per claim
            if current is None:
                continue  # another replica took it over, or it was applied already
            retry = work.apply(item, current, rows[_key(item.order)])
            answered.setdefault(_key(item.order), item.order)
            if retry is not None:
                retries.append(retry)
        changes = work.finish()
        # The trail reached accounts where other cases hold money: each case records it once per
        # other case, in its chain (whose head is locked already).
        for key, order in sorted(answered.items()):
            found = elsewhere.get(key)
            if found is None:
                continue
            detail = held_for_other_case(found.bank_code, found.account_number, found.others, found.recorded)
            if detail is not None:
                changes.events.append(EventRecord(found.case_id, "account.held_for_other_case", order.order_id, detail))
        await tx.apply(changes)
    if first_hold is not None:
        await _first_holds(pool, changes, first_hold)
    if work.freed or work.deferred:
        await follow_up(pool, work.deferred, work.freed, retry_after, actor, policy, caps)
    return retries


async def _first_holds(pool: asyncpg.Pool, changes: TrailChanges, first_hold: Callable[[float], None]) -> None:
    """Tells ``first_hold`` of the holds ``changes`` started that are their case's first; a read that
    fails costs only the observation."""
    started = [CaseAccount(h.case_id, h.bank_code, h.account_number) for h in changes.holds if h.op is HoldOp.STOP]
    if not started:
        return
    try:
        for seconds in await metrics.first_holds(pool, started):
            first_hold(seconds)
    except StoreError as exc:
        log.warning("trail.first_hold_unread", holds=len(started), error=str(exc))


async def follow_up(
    pool: asyncpg.Pool,
    stops: list[_Stop],
    freed: set[AccountKey],
    retry_after: Callable[[int], float],
    actor: str,
    policy: HoldPolicy,
    caps: Limits = DEFAULT_CAPS,
) -> None:
    """Right after a batch, in a transaction of its own that locks the rows concerned in key order
    (then the chain heads, as every writer does): the stops the batch opened on accounts it had not
    locked (the next level's), their freeze in flight on the account's row from now; and, where a
    release set money free (``freed``), a top-up for every case short of its victim's money there
    (:func:`stopay.domain.settlement.top_up`). The batch is recorded already: a failure here is
    logged; a stop lost so leaves the freeze to its freeze order's statement, and the next release
    on the account asks again."""
    try:
        wanted = [AccountToLock(s.case_id, s.bank_code, s.number, s.holder, s.level) for s in stops]
        wanted += await rows_at(pool, sorted(freed)) if freed else []
        async with trail_transaction(pool, None, actor, policy) as tx:
            rows, _ = await tx.lock(wanted, [])
            work = _Batch(rows, retry_after, policy, caps, reach=tx.reach)
            for stop in stops:
                work.stop(stop)
            for row in rows.values():
                if AccountKey(row.bank_code, row.account_number) in freed:
                    work.top_up(row)
            await tx.apply(work.finish())
    except StoreError as exc:
        log.warning("trail.follow_up_failed", stops=len(stops), accounts=len(freed), error=str(exc))


@dataclass(frozen=True, slots=True)
class _Stop:
    """A stop to open: beside freeze order ``twin_id``, or a top-up (no twin)."""

    case_id: uuid.UUID
    currency: str
    order_id: uuid.UUID
    twin_id: uuid.UUID | None
    bank_code: str
    number: str
    holder: str
    level: int
    amount_minor: int
    incoming: list[dict[str, Any]]


class _Batch:
    """Collects the changes of one batch; rows are updated in memory as answers are applied, so two
    answers about one account in a batch see each other."""

    def __init__(
        self,
        rows: dict[CaseAccount, AccountRow],
        retry_after: Callable[[int], float],
        policy: HoldPolicy,
        caps: Limits = DEFAULT_CAPS,
        elsewhere: dict[CaseAccount, HeldElsewhere] | None = None,
        reach: dict[uuid.UUID, Reach] | None = None,
    ) -> None:
        self.rows = rows
        # Each case's review of large freezes and its reach, updated as the batch opens freezes.
        self.reach = reach or {}
        # The other cases holding money at the batch's accounts, before the batch.
        self.elsewhere = elsewhere or {}
        self.policy = policy
        self.caps = caps
        # Freeze orders this batch opens, by case (the rows' counts are from before the batch).
        self.opened: dict[uuid.UUID, int] = {}
        self.retry_after = retry_after
        self.changes = TrailChanges()
        self.touched: dict[CaseAccount, AccountRow] = {}
        # Debits larger than the balance a statement showed (data gaps), by account, latest first.
        self.gaps: dict[CaseAccount, dict[str, int]] = {}
        # Accounts where money may have been set free for a case short of its victim's money.
        self.freed: set[AccountKey] = set()
        # Stops on accounts this batch did not lock, opened right after it (follow_up).
        self.deferred: list[_Stop] = []

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
            {(x.case_id, x.bank_code, x.account_number, x.txn_id): x for x in self.changes.exits}.values()
        )
        for row in self.touched.values():
            self.changes.accounts.append(account_change(row, self.gaps.get(row.key)))
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
            labelled={txn: parts_from_json(i["parts"]) for txn, i in incoming.items()},
            sent={txn: parts_from_json(parts) for txn, parts in row.sent.items()},
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
        result = within_hold(result, row.hold_state, row.hold_document_minor, row.money, row.hold_limit_minor)

        row.rev += 1
        row.incoming = incoming
        row.sent = {txn: [list(p) for p in parts] for txn, parts in result.sent.items()}
        row.left_minor = result.left_minor
        sized = (
            self._gate(
                order.case_id,
                AccountKey(order.bank_code, order.account_number),
                result.freeze_minor,
                order.level,
                order.order_id,
            )
            if result.freeze_minor > 0
            else Gate.SEND
        )
        if sized is not Gate.DECLINE:  # a waiting freeze's money is set aside too
            row.in_flight_minor += result.freeze_minor
        row.statements_due = max(0, row.statements_due - 1)
        if result.freeze_minor:
            row.asked_releases = row.releases
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
        if result.freeze_minor > 0 and sized is Gate.SEND:
            self._order(order, OrderStatus.FREEZING, freeze_minor=result.freeze_minor)
        elif result.freeze_minor > 0:
            status = _GATED[sized]
            detail = _GATED_DETAIL[sized]
            self._order(order, status, freeze_minor=result.freeze_minor, detail=detail)
            self._event(
                order,
                f"order.{status.value}",
                {"bank_code": order.bank_code, "freeze_minor": result.freeze_minor, "detail": detail},
            )
        else:
            status = settled_status(0, order.requested_minor)
            if not result.left_minor:
                detail = "none of the victim's money is left here"
            elif row.in_flight_minor:
                detail = "the stop sent beside it freezes this money"
            else:
                detail = "already held for this case"
            self._order(order, status, detail=detail)
            self._event(order, f"order.{status.value}", {"held_minor": 0, "detail": detail})
        if result.release_minor > 0 and judged(row.statements_due, traced=True):
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
                OrderKind.FREEZE,
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
            child = self.rows.get(CaseAccount(order.case_id, account.bank_code, account.number))
            if child is not None:
                child.statements_due += 1
            if onward.new_minor > 0:  # stop first: freeze what the transfer carried, beside the statement
                self.stop(
                    _Stop(
                        order.case_id,
                        order.currency,
                        stop_of(order.case_id, order_id),
                        order_id,
                        account.bank_code,
                        account.number,
                        account.holder_name,
                        onward.level,
                        onward.new_minor,
                        self.changes.created[-1].incoming,
                    )
                )
        for flow in result.exits:
            if flow.amount_minor:
                row.exited[flow.txn_id] = flow.amount_minor
            else:
                row.exited.pop(flow.txn_id, None)
            self.changes.exits.append(
                ExitChange(
                    case_id=order.case_id,
                    txn_id=flow.txn_id,
                    order_id=order.order_id,
                    bank_code=order.bank_code,
                    account_number=order.account_number,
                    level=row.level,
                    exit_kind=flow.kind,
                    amount_minor=flow.amount_minor,
                    exited_at=flow.at,
                )
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
        if asks_statement(current.kind, current.status):  # refused or given up: no longer due
            row.statements_due = max(0, row.statements_due - 1)
        settled = settle(
            current.kind,
            current.status,
            status,
            current.requested_minor,
            current.freeze_minor,
            outcome.held_minor,
            outcome.released_minor,
            row.money,
            judge=judged(row.statements_due, traced=row.rev > 0),
        )
        row.held_minor = settled.money.held_minor
        row.in_flight_minor = settled.money.in_flight_minor
        row.releasing_minor = settled.money.releasing_minor
        self.touched[row.key] = row
        if current.kind is OrderKind.RELEASE and outcome.released_minor > 0:
            # Set free: every case the batch locked there asks again now, the others right after.
            self.freed.add(AccountKey(row.bank_code, row.account_number))
        elif (
            freeze_out(current.kind, current.status)
            and status is not OrderStatus.PENDING
            and outcome.held_minor < (current.freeze_minor or 0)
            and row.releases > row.asked_releases
        ):  # held less than asked, though money was set free there since it was asked for
            self.freed.add(AccountKey(row.bank_code, row.account_number))
        self._hold(order, row, current, outcome)
        detail = outcome.detail
        found = self.elsewhere.get(row.key)
        if (
            found is not None
            and freeze_out(current.kind, current.status)
            and status is not OrderStatus.PENDING
            and outcome.held_minor < (current.freeze_minor or 0)
        ):  # held less than asked where other cases hold money: the order names them
            detail = held_elsewhere_note(detail, found.others)
        self._order(
            order,
            status,
            held_minor=outcome.held_minor,
            released_minor=outcome.released_minor,
            reason_code=outcome.reason_code,
            detail=detail,
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
                "detail": detail,
            },
        )
        if settled.release_minor > 0:  # meanwhile a fuller view showed less of the victim's money here
            self._release(order, row, settled.release_minor)
        again = ask_again_after_refusal(
            current.kind,
            status,
            order.parent_order_id is not None,
            judged(row.statements_due, row.rev > 0),
            row.money,
        )
        if again:
            self.stop(
                _Stop(
                    row.case_id,
                    order.currency,
                    uuid.uuid5(row.case_id, f"again:{order.order_id}"),
                    None,
                    row.bank_code,
                    row.account_number,
                    row.holder_name,
                    row.level,
                    again,
                    _incoming(row),
                )
            )
        if current.kind is OrderKind.RELEASE and outcome.released_minor > 0:
            # Set free: every case the batch locked there asks again now (the others right after
            # the batch, follow_up); so the case is never seen settled in between.
            here = (row.bank_code, row.account_number)
            at = [r for r in self.rows.values() if (r.bank_code, r.account_number) == here]
            for other in at:
                other.releases += 1
            for other in at:
                self.top_up(other)

    def stop(self, stop: _Stop) -> None:
        """Opens ``stop``: it freezes its amount at once, in flight from now on the account's row.
        A row this batch did not lock is not written here (rows are locked in key order, before the
        chain heads): the stop waits for :func:`follow_up`."""
        row = self.rows.get(CaseAccount(stop.case_id, stop.bank_code, stop.number))
        if row is None:
            self.deferred.append(stop)
            return
        decided = self._gate(
            stop.case_id, AccountKey(stop.bank_code, stop.number), stop.amount_minor, stop.level, stop.order_id
        )
        if decided is not Gate.DECLINE:  # a waiting stop's money is set aside too
            row.in_flight_minor += stop.amount_minor
            row.asked_releases = row.releases
        self.touched[row.key] = row
        self.changes.created.append(
            NewOrder(
                case_id=stop.case_id,
                order_id=stop.order_id,
                parent_order_id=stop.twin_id,
                kind=OrderKind.STOP,
                level=stop.level,
                bank_code=stop.bank_code,
                account_number=stop.number,
                holder_name=stop.holder,
                currency=stop.currency,
                requested_minor=stop.amount_minor,
                incoming=stop.incoming,
                freeze_minor=stop.amount_minor,
                idempotency_key=None if stop.twin_id is None else f"{stop.case_id}:{stop.twin_id}/stop",
                status=OrderStatus.QUEUED if decided is Gate.SEND else _GATED[decided],
            )
        )
        detail: dict[str, Any] = {
            "bank_code": stop.bank_code,
            "requested_minor": stop.amount_minor,
            "kind": OrderKind.STOP.value,
        }
        if stop.twin_id is None:
            detail["top_up"] = True
        kind = "order.queued"
        if decided is not Gate.SEND:
            kind = f"order.{_GATED[decided].value}"
            detail["detail"] = _GATED_DETAIL[decided]
        self.changes.events.append(EventRecord(stop.case_id, kind, stop.order_id, detail))

    def _gate(self, case_id: uuid.UUID, account: AccountKey, amount: int, level: int, order_id: uuid.UUID) -> Gate:
        """Whether a freeze goes out, waits for the case's review or is declined
        (:func:`stopay.domain.review.gate`); the first to wait asks for the review."""
        reach = self.reach[case_id]  # read by the lock with the case's chain head
        thresholds = self.policy.review
        decided = gate(reach, account, amount, level, thresholds)
        if admit(reach, account, amount, decided):
            self.changes.reviews.append(
                ReviewRequest(
                    case_id,
                    len(reach.accounts),
                    reach.amount_minor,
                    thresholds.max_accounts,
                    thresholds.max_amount_minor,
                )
            )
            self.changes.events.append(
                EventRecord(
                    case_id,
                    "review.requested",
                    order_id,
                    {
                        "accounts": len(reach.accounts),
                        "amount_minor": reach.amount_minor,
                        "max_accounts": thresholds.max_accounts,
                        "max_amount_minor": thresholds.max_amount_minor,
                        "bank_code": account.bank_code,
                        "level": level,
                        "freeze_minor": amount,
                    },
                )
            )
            log.warning(
                "trail.review_requested",
                case_id=str(case_id),
                accounts=len(reach.accounts),
                amount_minor=reach.amount_minor,
            )
        return decided

    def top_up(self, row: AccountRow) -> None:
        """Asks, with a stop, what the case is short of at the account since a release there set
        money free (:func:`stopay.domain.settlement.top_up`)."""
        amount = top_up(
            row.money,
            judged(row.statements_due, traced=row.rev > 0),
            row.hold_state,
            row.hold_document_minor,
            row.asked_releases,
            row.releases,
            row.hold_limit_minor,
        )
        if amount:
            self.stop(
                _Stop(
                    row.case_id,
                    row.currency,
                    uuid.uuid5(row.case_id, f"top-up:{row.bank_code}:{row.account_number}:{row.releases}"),
                    None,
                    row.bank_code,
                    row.account_number,
                    row.holder_name,
                    row.level,
                    amount,
                    _incoming(row),
                )
            )

    def _release(self, order: ClaimedOrder, row: AccountRow, amount: int) -> None:
        row.rev += 1
        row.releasing_minor += amount
        self.touched[row.key] = row
        order_id = uuid.uuid5(order.case_id, f"release:{row.bank_code}:{row.account_number}:{row.rev}")
        self._create(
            order,
            order_id,
            OrderKind.RELEASE,
            row.level,
            row.bank_code,
            row.account_number,
            row.holder_name,
            amount,
            [],
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
        if starts_hold(current.kind, row.hold_state, row.held_minor):
            row.hold_state = HoldState.STOPPED
            self.changes.holds.append(HoldOpRow(row.case_id, row.bank_code, row.account_number, HoldOp.STOP))
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
        if current.kind is not OrderKind.RETURN:
            return
        if outcome.released_minor:
            payee = uuid.UUID(order.params["beneficiary_case"])
            self.changes.events.append(
                EventRecord(
                    case_id=payee,
                    kind="funds.returned",
                    order_id=order.order_id,
                    detail={
                        "amount_minor": outcome.released_minor,
                        "bank_code": row.bank_code,
                        "from_case": str(order.case_id),
                        "share": order.params.get("share", ""),
                        "beneficiary_bank": order.params.get("beneficiary", {}).get("bank_code", ""),
                    },
                )
            )
        if return_completes(current.kind, row.hold_state, row.money):
            row.hold_state = HoldState.RETURNED
            self.changes.holds.append(HoldOpRow(row.case_id, row.bank_code, row.account_number, HoldOp.RETURNED))
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
            OrderChange(
                order.case_id,
                order.order_id,
                status,
                freeze_minor,
                held_minor,
                released_minor,
                reason_code,
                detail,
                recheck_s,
            )
        )

    def _create(
        self,
        parent: ClaimedOrder,
        order_id: uuid.UUID,
        kind: OrderKind,
        level: int,
        bank_code: str,
        number: str,
        holder: str,
        requested: int,
        incoming: list[dict[str, Any]],
    ) -> None:
        self.changes.created.append(
            NewOrder(
                case_id=parent.case_id,
                order_id=order_id,
                parent_order_id=parent.order_id,
                kind=kind,
                level=level,
                bank_code=bank_code,
                account_number=number,
                holder_name=holder,
                currency=parent.currency,
                requested_minor=requested,
                incoming=incoming,
            )
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
            AnswerRecord(order.case_id, order.order_id, code, held, balance, reason, reference, statement)
        )

    def _event(self, order: ClaimedOrder, kind: str, detail: dict[str, Any]) -> None:
        self.changes.events.append(EventRecord(order.case_id, kind, order.order_id, detail))


# The status of a freeze that does not go out, and what its order's detail says.
_GATED = {Gate.WAIT: OrderStatus.AWAITING_REVIEW, Gate.DECLINE: OrderStatus.DECLINED}
_GATED_DETAIL = {
    Gate.WAIT: "awaiting review: the case's freezes passed the review's thresholds",
    Gate.DECLINE: "not asked: the supervisor declined the case's large freeze",
}


def _incoming(row: AccountRow) -> list[dict[str, Any]]:
    """Every transfer known to carry the victim's money into the account, oldest first: what a stop
    with no freeze order beside it names for the bank to verify."""
    return sorted(row.incoming.values(), key=lambda i: (i["at"], i["txn_id"]))

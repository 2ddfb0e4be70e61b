"""A pure in-memory simulation of the banks of one scenario: balances, holds, moves, statements
and freezes.

Nothing here sleeps or reads a clock: every call that depends on time takes ``now`` (a
timezone-aware ``datetime``), so the world can be unit tested step by step. The async adapter
(:mod:`bank_adapters.simulated.adapter`) drives it in real time.

A statement request and a freeze request verify the account and the named incoming transfers the
same way (one code path, :meth:`World._verify`); an extend and a return check the account the same
way, without incoming transfers (:meth:`World._check_account`). Rejections (``RJCR``) carry ISO
20022 reason codes: ``AC01`` unknown account, ``BE01`` holder name mismatch, ``NOOR`` a named
incoming transfer does not match the ledger (or none is named), ``AM03`` currency not the
scenario's, ``AM12`` non-positive amount (freeze, extend, return). ``extra["detail"]`` says why.

A return (pacs.004) is a real movement: it leaves the account's balance and its hold, shows as a
debit in the account's later statements, and credits the beneficiary when the beneficiary is an
account of the scenario (else the money leaves the simulated network to the victim's bank).
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from bank_adapters.protocol import (
    Account,
    AnswerStatus,
    BankUnavailable,
    ExtendAnswer,
    ExtendRequest,
    FreezeAnswer,
    FreezeRequest,
    HoldChange,
    IncomingTransfer,
    ReleaseAnswer,
    ReleaseRequest,
    ReturnAnswer,
    ReturnRequest,
    Statement,
    StatementAnswer,
    StatementLine,
    StatementRequest,
)
from bank_adapters.simulated.scenario import LedgerEvent, Scenario

DEFAULT_TIME_TOLERANCE_S = 120.0


@dataclass(frozen=True, slots=True)
class Movement:
    """A ledger event as it happened: ``amount`` may be less than planned for a scheduled move."""

    event: LedgerEvent
    amount: int
    at: datetime


@dataclass(frozen=True, slots=True)
class HoldTerm:
    """How long the hold stopay's freezes placed on an account lasts, as the latest extend set it."""

    until: datetime
    change: HoldChange


@dataclass(frozen=True, slots=True)
class _Rejection:
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class _Posting:
    movement: Movement
    balance_before: int


class World:
    """The state of every bank of a scenario at the latest ``now`` it was shown.

    History (``at <= 0``) is replayed at creation; scheduled moves are applied by :meth:`advance`.
    ``epoch`` is time zero: the override given, else the scenario's, else ``now`` at creation.
    """

    def __init__(
        self,
        scenario: Scenario,
        now: datetime,
        *,
        epoch: datetime | None = None,
        time_tolerance_s: float = DEFAULT_TIME_TOLERANCE_S,
    ) -> None:
        _require_aware(now, "now")
        self.scenario = scenario
        self.epoch = epoch or scenario.epoch or now
        _require_aware(self.epoch, "epoch")
        self._tolerance = timedelta(seconds=time_tolerance_s)
        self._accounts = {a.id: a for a in scenario.accounts}
        self._balance = {a.id: a.opening_balance for a in scenario.accounts}
        self._held = {a.id: 0 for a in scenario.accounts}
        self._postings: dict[str, list[_Posting]] = {a.id: [] for a in scenario.accounts}
        self._done: dict[str, Movement] = {}
        self._answers: dict[str, FreezeAnswer] = {}
        self._releases: dict[str, ReleaseAnswer] = {}
        self._extensions: dict[str, ExtendAnswer] = {}
        self._returns: dict[str, ReturnAnswer] = {}
        self._terms: dict[str, HoldTerm] = {}
        self._outside: dict[str, Account] = {}  # beneficiaries of returns outside the scenario
        self._refs = itertools.count(1)
        # Movements the world makes itself (returns) are numbered after every scenario event.
        self._seqs = itertools.count(max((e.seq for e in scenario.ledger), default=0) + 1)
        self._pending = deque(sorted(scenario.ledger, key=lambda e: e.order))
        while self._pending and self._pending[0].is_history:
            event = self._pending.popleft()
            self._apply(event, event.amount)
        self.advance(now)

    # ---- reading --------------------------------------------------------------------------------

    def balance(self, account_id: str) -> int:
        return self._balance[account_id]

    def held(self, account_id: str) -> int:
        return self._held[account_id]

    def holds(self) -> dict[str, int]:
        """Total held per account, for accounts holding anything."""
        return {acc: amount for acc, amount in self._held.items() if amount}

    def hold_until(self, account_id: str) -> HoldTerm | None:
        """Until when, and by which change, the latest extend of the account's hold set it; None
        when no extend has kept anything held there."""
        return self._terms.get(account_id)

    def movement(self, txn_id: str) -> Movement | None:
        """The transfer as it happened, or None if it has not (yet) happened."""
        return self._done.get(txn_id)

    def time_of(self, at_s: float) -> datetime:
        return self.epoch + timedelta(seconds=at_s)

    def next_move_at(self) -> datetime | None:
        """When the next scheduled move is due, or None when none is left."""
        return self.time_of(self._pending[0].at) if self._pending else None

    def in_outage(self, bank_code: str, now: datetime) -> bool:
        try:
            outages = self.scenario.bank(bank_code).outages
        except KeyError:
            return False
        t = (now - self.epoch).total_seconds()
        return any(start <= t < end for start, end in outages)

    # ---- time -----------------------------------------------------------------------------------

    def advance(self, now: datetime) -> list[Movement]:
        """Apply every scheduled move due by ``now``; returns the moves that happened."""
        happened = []
        while self._pending and self.time_of(self._pending[0].at) <= now:
            event = self._pending.popleft()
            amount = event.amount
            if event.from_account is not None:
                amount = min(amount, self._available(event.from_account))
            if amount > 0:
                happened.append(self._apply(event, amount))
        return happened

    def _apply(self, event: LedgerEvent, amount: int) -> Movement:
        movement = Movement(event=event, amount=amount, at=self.time_of(event.at))
        for account_id, sign in ((event.from_account, -1), (event.to_account, 1)):
            if account_id is not None:
                self._postings[account_id].append(_Posting(movement, self._balance[account_id]))
                self._balance[account_id] += sign * amount
        self._done[event.txn_id] = movement
        return movement

    def _available(self, account_id: str) -> int:
        return max(0, self._balance[account_id] - self._held[account_id])

    # ---- statements and freezing ------------------------------------------------------------

    def statement(self, request: StatementRequest, now: datetime) -> StatementAnswer:
        """Answer a statement request as the account's bank would at ``now``.

        Verifies like :meth:`freeze` and answers ``ACCR`` with the statement from just before the
        earliest named incoming transfer, or ``RJCR`` with the reason. Holds nothing and remembers
        nothing: a resend (same ``idempotency_key``) is answered afresh from the state at ``now``.
        Raises :class:`BankUnavailable` during an outage of the bank.
        """
        self._open(request.account.bank_code, now)
        found = self._verify(request.account, request.currency, request.incoming)
        if isinstance(found, _Rejection):
            return StatementAnswer(status=AnswerStatus.RJCR, reason_code=found.reason, extra={"detail": found.detail})
        account_id = request.account.id
        return StatementAnswer(
            status=AnswerStatus.ACCR,
            statement=self._statement(account_id, found),
            balance_minor=self._balance[account_id],
            bank_reference=self._reference(request.account.bank_code),
        )

    def freeze(self, request: FreezeRequest, now: datetime) -> FreezeAnswer:
        """Answer a freeze request as the account's bank would at ``now``.

        Raises :class:`BankUnavailable` during an outage of the bank. A resend (same
        ``idempotency_key``) gets the first answer again and holds nothing more.
        """
        self._open(request.account.bank_code, now)
        if request.idempotency_key in self._answers:
            return self._answers[request.idempotency_key]
        answer = self._decide(request)
        self._answers[request.idempotency_key] = answer
        return answer

    def release(self, request: ReleaseRequest, now: datetime) -> ReleaseAnswer:
        """Give back up to ``amount_minor`` of what is held on the account. A resend (same
        ``idempotency_key``) gets the first answer again and releases nothing more."""
        self._open(request.account.bank_code, now)
        if request.idempotency_key in self._releases:
            return self._releases[request.idempotency_key]
        account_id = request.account.id
        if account_id not in self._accounts:
            answer = ReleaseAnswer(
                status=AnswerStatus.RJCR, reason_code="AC01", extra={"detail": f"no account {account_id}"}
            )
        else:
            released = max(0, min(request.amount_minor, self._held[account_id]))
            self._held[account_id] -= released
            answer = ReleaseAnswer(
                status=AnswerStatus.ACCR,
                released_minor=released,
                bank_reference=self._reference(request.account.bank_code),
            )
        self._releases[request.idempotency_key] = answer
        return answer

    def extend(self, request: ExtendRequest, now: datetime) -> ExtendAnswer:
        """Keep holding up to ``amount_minor`` of what is held on the account until
        ``request.until``; holds nothing more. Answers ``ACCR`` with what stays held under the
        extended hold (possibly 0 when nothing is held) and remembers the term (see
        :meth:`hold_until`) when that is more than nothing. A resend (same ``idempotency_key``)
        gets the first answer again and changes nothing."""
        self._open(request.account.bank_code, now)
        if request.idempotency_key in self._extensions:
            return self._extensions[request.idempotency_key]
        problem = self._check_account(request.account, request.currency, request.amount_minor)
        if problem is not None:
            answer = ExtendAnswer(
                status=AnswerStatus.RJCR, reason_code=problem.reason, extra={"detail": problem.detail}
            )
        else:
            account_id = request.account.id
            kept = min(request.amount_minor, self._held[account_id])
            if kept:
                self._terms[account_id] = HoldTerm(until=request.until, change=HoldChange(request.change))
            answer = ExtendAnswer(
                status=AnswerStatus.ACCR, held_minor=kept, bank_reference=self._reference(request.account.bank_code)
            )
        self._extensions[request.idempotency_key] = answer
        return answer

    def return_funds(self, request: ReturnRequest, now: datetime) -> ReturnAnswer:
        """pacs.004: pay up to ``amount_minor`` of what is held on the account to the beneficiary.

        What is paid (at most what is held; possibly 0) leaves the account's hold and balance as a
        debit that later statements show, and credits the beneficiary when it is an account of
        the scenario. A resend (same ``idempotency_key``) gets the first answer again and pays
        nothing more."""
        self._open(request.account.bank_code, now)
        if request.idempotency_key in self._returns:
            return self._returns[request.idempotency_key]
        problem = self._check_account(request.account, request.currency, request.amount_minor)
        if problem is not None:
            answer = ReturnAnswer(
                status=AnswerStatus.RJCR, reason_code=problem.reason, extra={"detail": problem.detail}
            )
        else:
            account_id = request.account.id
            paid = min(request.amount_minor, self._held[account_id])
            reference = self._reference(request.account.bank_code)
            if paid:
                self._held[account_id] -= paid
                self._pay(account_id, request.beneficiary, paid, now, txn_id=reference)
            answer = ReturnAnswer(status=AnswerStatus.ACCR, returned_minor=paid, bank_reference=reference)
        self._returns[request.idempotency_key] = answer
        return answer

    def _pay(self, account_id: str, beneficiary: Account, amount: int, now: datetime, txn_id: str) -> Movement:
        """Post a movement the world makes itself (not in the scenario's ledger) at ``now``."""
        to_id = beneficiary.id
        if to_id not in self._accounts:
            self._outside.setdefault(to_id, Account(beneficiary.bank_code, beneficiary.number, beneficiary.holder_name))
        event = LedgerEvent(
            seq=next(self._seqs),
            at=(now - self.epoch).total_seconds(),
            from_account=account_id,
            to_account=to_id,
            exit=None,
            amount=amount,
            txn_id=txn_id,
        )
        movement = Movement(event=event, amount=amount, at=now)
        for posted_to, sign in ((account_id, -1), (to_id, 1)):
            if posted_to in self._accounts:
                self._postings[posted_to].append(_Posting(movement, self._balance[posted_to]))
                self._balance[posted_to] += sign * amount
        self._done[txn_id] = movement
        return movement

    def _open(self, bank_code: str, now: datetime) -> None:
        """Bring the world up to ``now`` and make sure the bank is answering."""
        _require_aware(now, "now")
        self.advance(now)
        if self.in_outage(bank_code, now):
            raise BankUnavailable(f"bank {bank_code} is in an outage")

    def _decide(self, request: FreezeRequest) -> FreezeAnswer:
        found = self._verify(request.account, request.currency, request.incoming, amount_minor=request.amount_minor)
        if isinstance(found, _Rejection):
            return FreezeAnswer(status=AnswerStatus.RJCR, reason_code=found.reason, extra={"detail": found.detail})
        account_id = request.account.id
        hold = min(request.amount_minor, self._available(account_id))
        self._held[account_id] += hold
        status = AnswerStatus.ACCR if hold == request.amount_minor else AnswerStatus.PECR
        return FreezeAnswer(
            status=status,
            held_minor=hold,
            balance_minor=self._balance[account_id],
            statement=self._statement(account_id, found),
            bank_reference=self._reference(request.account.bank_code),
        )

    def _verify(
        self, account: Account, currency: str, incoming: tuple[IncomingTransfer, ...], amount_minor: int | None = None
    ) -> Movement | _Rejection:
        """Check a request against the ledger as the bank would before answering it.

        Returns the earliest named incoming transfer as it happened, or why the request is refused.
        ``amount_minor`` is checked only when given (freezes name an amount, statements do not).
        """
        problem = self._check_account(account, currency, amount_minor)
        if problem is not None:
            return problem
        account_id = account.id
        if not incoming:
            return _Rejection("NOOR", "no incoming transfer named")
        matched = []
        for transfer in incoming:
            mismatch = self._mismatch(transfer, account_id)
            if mismatch:
                return _Rejection("NOOR", f"{transfer.txn_id}: {mismatch}")
            matched.append(self._done[transfer.txn_id])
        return min(matched, key=lambda m: m.event.order)

    def _check_account(self, account: Account, currency: str, amount_minor: int | None = None) -> _Rejection | None:
        """Why a request about ``account`` is refused before its transfers are looked at, or None.
        ``amount_minor`` is checked only when given."""
        account_id = account.id
        scenario_account = self._accounts.get(account_id)
        if scenario_account is None:
            return _Rejection("AC01", f"no account {account_id}")
        name = account.holder_name.strip()
        if name and name != scenario_account.holder:
            return _Rejection("BE01", f"holder name does not match account {account_id}")
        if currency != self.scenario.currency:
            return _Rejection("AM03", f"currency must be {self.scenario.currency}")
        if amount_minor is not None and amount_minor <= 0:
            return _Rejection("AM12", "amount must be positive")
        return None

    def _mismatch(self, transfer: IncomingTransfer, account_id: str) -> str:
        """Why the named transfer does not match the ledger, or "" when it does."""
        movement = self._done.get(transfer.txn_id)
        if movement is None:
            return "no such transfer has happened"
        if movement.event.to_account != account_id:
            return "transfer did not credit this account"
        if movement.amount != transfer.amount_minor:
            return "amount does not match"
        if transfer.transferred_at.tzinfo is None:
            return "transfer time has no offset"
        if abs(movement.at - transfer.transferred_at) > self._tolerance:
            return "time does not match"
        if transfer.payer is not None and transfer.payer.id != movement.event.from_account:
            return "payer does not match"
        return ""

    def _statement(self, account_id: str, first: Movement) -> Statement:
        postings = self._postings[account_id]
        start = next(i for i, p in enumerate(postings) if p.movement is first)
        lines = tuple(self._line(account_id, p.movement) for p in postings[start:])
        return Statement(opening_balance_minor=postings[start].balance_before, lines=lines)

    def _line(self, account_id: str, movement: Movement) -> StatementLine:
        event = movement.event
        credit = event.to_account == account_id
        other = event.from_account if credit else event.to_account
        return StatementLine(
            seq=event.seq,
            at=movement.at,
            kind="credit" if credit else "debit",
            amount_minor=movement.amount,
            txn_id=event.txn_id,
            counterparty=None if other is None else self._account(other),
            exit=None if credit else event.exit,
        )

    def _account(self, account_id: str) -> Account:
        if account_id in self._outside:
            return self._outside[account_id]
        acc = self._accounts[account_id]
        return Account(bank_code=acc.bank_code, number=acc.number, holder_name=acc.holder)

    def _reference(self, bank_code: str) -> str:
        return f"SIM-{bank_code}-{next(self._refs):06d}"


def _require_aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime")

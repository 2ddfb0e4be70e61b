"""The bank adapter conformance suite: one set of tests every :class:`BankAdapter` must pass.

Like keyring's backend tests, the tests are methods of a base class; a bank integrator subclasses
it in their own test suite and provides one fixture, ``adapter_for``, that yields an async callable
``network -> started adapter``::

    import pytest_asyncio
    from bank_adapters.conformance import AdapterConformance

    class TestMyBank(AdapterConformance):
        @pytest_asyncio.fixture
        async def adapter_for(self):
            made = []

            async def make(network):
                # provision `network` in the bank's sandbox (fresh for each test), then:
                adapter = mybank_stopay.adapter.create({"sandbox": "..."})
                await adapter.start()
                made.append(adapter)
                return adapter

            yield make
            # tear the sandbox down here; the suite closes the adapters it was given

The suite ships its own small bank network, :func:`network` (the ``stopay-bank-network/1`` format
that ``stopay bank-sim`` and the ``simulated`` adapter read): the sync bank ``SYNCBANK`` and the
callback-mode bank ``CALLBANK``, known accounts and holders, and four past transfers at a fixed
``epoch``. An adapter for a real bank passes it against a sandbox provisioned with the same
accounts, balances and transfers (:data:`SYNC_BANK`, :data:`CALLBACK_BANK`, :data:`MULE` ...).

Every test asks for a fresh network (``adapter_for`` is called once per test). ``restart`` closes
the adapter and makes a new one that reaches the same bank state; the default calls
``adapter_for`` again, so override it when a second call would provision a fresh sandbox.

Only used under pytest (it needs ``pytest`` and ``pytest-asyncio``); it imports nothing of stopay.
"""

from __future__ import annotations

import asyncio
import copy
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio

from bank_adapters.protocol import (
    Account,
    AnswerStatus,
    BankAdapter,
    ExitKind,
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
    StatementAnswer,
    StatementRequest,
)

__all__ = [
    "CALLBACK_BANK",
    "CALLBACK_MULE",
    "EPOCH",
    "MULE",
    "MULE2",
    "NETWORK",
    "SYNC_BANK",
    "UNKNOWN",
    "VICTIM",
    "AdapterConformance",
    "AdapterFor",
    "Blocked",
    "network",
    "transfer",
]

AdapterFor = Callable[[dict[str, Any]], Awaitable[BankAdapter]]

SYNC_BANK = "SYNCBANK"  # answers every request at once
CALLBACK_BANK = "CALLBANK"  # answers a freeze PDCR, then reports (or answers a resend) later
EPOCH = "2025-06-01T10:00:00+08:00"  # time zero of the network; every transfer is before it
CURRENCY = "CNY"

VICTIM = Account(SYNC_BANK, "6200000000000001", "受害人甲")
MULE = Account(SYNC_BANK, "6200000000000002", "张三")  # level 1: got 1,000,000, 550,000 left
MULE2 = Account(SYNC_BANK, "6200000000000003", "李四")  # level 2: got 300,000 from MULE
CALLBACK_MULE = Account(CALLBACK_BANK, "6300000000000001", "王五")  # got 800,000 from VICTIM
UNKNOWN = Account(SYNC_BANK, "6200000000009999", "无此人")  # no such account at SYNCBANK

MULE_OPENING = 50_000  # MULE's own money before the victim's transfer
MULE_BALANCE = 550_000  # 50,000 + 1,000,000 - 300,000 - 200,000 (ATM)
CALLBACK_MULE_BALANCE = 800_000


def _id(account: Account) -> str:
    return account.id


NETWORK: dict[str, Any] = {
    "format": "stopay-bank-network/1",
    "name": "adapter-conformance",
    "description": "The bank network of the adapter conformance suite (bank_adapters/conformance.py).",
    "currency": CURRENCY,
    "epoch": EPOCH,
    "banks": [
        {"code": SYNC_BANK, "name": "Conformance sync bank", "latency_ms": 0, "mode": "sync"},
        {"code": CALLBACK_BANK, "name": "Conformance callback bank", "latency_ms": 300, "mode": "callback"},
    ],
    "accounts": [
        {"id": _id(VICTIM), "holder": VICTIM.holder_name, "opening_balance": 5_000_000},
        {"id": _id(MULE), "holder": MULE.holder_name, "opening_balance": MULE_OPENING},
        {"id": _id(MULE2), "holder": MULE2.holder_name, "opening_balance": 0},
        {"id": _id(CALLBACK_MULE), "holder": CALLBACK_MULE.holder_name, "opening_balance": 0},
    ],
    "ledger": [
        {"seq": 1, "at": -3600, "from": _id(VICTIM), "to": _id(MULE), "amount": 1_000_000, "txn_id": "CF-T1"},
        {"seq": 2, "at": -3000, "from": _id(MULE), "to": _id(MULE2), "amount": 300_000, "txn_id": "CF-T2"},
        {"seq": 3, "at": -2400, "from": _id(MULE), "exit": "ATM", "amount": 200_000, "txn_id": "CF-T3"},
        {"seq": 4, "at": -1800, "from": _id(VICTIM), "to": _id(CALLBACK_MULE), "amount": 800_000, "txn_id": "CF-T4"},
    ],
}


def network() -> dict[str, Any]:
    """A fresh copy of the suite's bank network (``stopay-bank-network/1``)."""
    return copy.deepcopy(NETWORK)


def _at(seconds: float) -> datetime:
    return datetime.fromisoformat(EPOCH) + timedelta(seconds=seconds)


def transfer(
    txn_id: str, *, amount_minor: int | None = None, at: datetime | None = None, payer: Account | None = None
) -> IncomingTransfer:
    """The network's transfer ``txn_id`` as stopay names it in a request; override a field to spoil it."""
    event = next(e for e in NETWORK["ledger"] if e["txn_id"] == txn_id)
    return IncomingTransfer(
        txn_id=txn_id,
        amount_minor=event["amount"] if amount_minor is None else amount_minor,
        transferred_at=_at(event["at"]) if at is None else at,
        payer=payer,
    )


# The transfer that brought the victim's money into each account.
INTO = {MULE.id: "CF-T1", MULE2.id: "CF-T2", CALLBACK_MULE.id: "CF-T4", UNKNOWN.id: "CF-T1"}


@dataclass(frozen=True, slots=True)
class Blocked:
    """An account the bank refuses to freeze for good: closed (``AC04``) or blocked for legal
    reasons (``LEGL``); see :meth:`AdapterConformance.blocked_account`."""

    account: Account
    incoming: tuple[IncomingTransfer, ...]
    reason_code: str


def _essence(answer: FreezeAnswer | ReleaseAnswer | ExtendAnswer | ReturnAnswer) -> tuple[Any, ...]:
    """What a resend must repeat: everything but ``extra`` (free-form, e.g. a time of answering)."""
    if isinstance(answer, ReleaseAnswer):
        return (answer.status, answer.released_minor, answer.reason_code, answer.bank_reference)
    if isinstance(answer, ExtendAnswer):
        return (answer.status, answer.held_minor, answer.reason_code, answer.bank_reference)
    if isinstance(answer, ReturnAnswer):
        return (answer.status, answer.returned_minor, answer.reason_code, answer.bank_reference)
    return (
        answer.status,
        answer.held_minor,
        answer.balance_minor,
        answer.reason_code,
        answer.bank_reference,
        answer.statement,
    )


class AdapterConformance:
    """The conformance tests; subclass it as ``Test...`` and override the ``adapter_for`` fixture.

    Class attributes a subclass may change:

    * ``callback_answers_pending``: the adapter answers a freeze at a ``callback``-mode bank with
      ``PDCR`` and the real answer later (True, the default, and what a callback bank does); False
      for an adapter that answers such banks at once.
    * ``decision_timeout_s``: how long a callback-mode bank may take to decide a freeze.
    """

    callback_answers_pending: bool = True
    decision_timeout_s: float = 15.0
    poll_interval_s: float = 0.1

    # ---- what a subclass provides ---------------------------------------------------------------

    @pytest_asyncio.fixture
    async def adapter_for(self) -> AsyncIterator[AdapterFor]:
        """Yield ``async (network: dict) -> BankAdapter``: the banks of ``network`` provisioned
        afresh, and a started adapter that serves them. Undo the provisioning after the yield; the
        suite closes the adapters it got."""
        pytest.fail(f"{type(self).__name__} must override the adapter_for fixture of AdapterConformance")
        yield  # pragma: no cover

    async def restart(self, adapter: BankAdapter) -> BankAdapter:
        """Close ``adapter`` and return a new, started one that reaches the same banks in the same
        state (as after a restart of stopay). Default: ``adapter_for`` again with the same network."""
        await adapter.close()
        return await self._adapter_for(network())

    def blocked_account(self) -> Blocked | None:
        """A closed or legally blocked account of the sandbox, if it can have one. The suite's
        network format cannot mark an account closed, so the default is None (the test skips)."""
        return None

    # ---- the suite's own fixtures and helpers ---------------------------------------------------

    @pytest_asyncio.fixture
    async def adapter(self, adapter_for: AdapterFor) -> AsyncIterator[BankAdapter]:
        self._adapter_for = adapter_for
        self._prefix = f"conformance-{uuid.uuid4().hex[:12]}"
        first = await adapter_for(network())
        assert isinstance(first, BankAdapter), f"{first!r} is not a BankAdapter"
        self._open: list[BankAdapter] = [first]
        try:
            yield first
        finally:
            for opened in {id(a): a for a in self._open}.values():
                await opened.close()

    async def _restarted(self, adapter: BankAdapter) -> BankAdapter:
        fresh = await self.restart(adapter)
        if fresh is not adapter:
            self._open = [a for a in self._open if a is not adapter]
        self._open.append(fresh)
        return fresh

    def key(self, name: str) -> str:
        """An idempotency key unique to this test run (a sandbox may outlive one run)."""
        return f"{self._prefix}:{name}"

    def freeze_request(
        self, key: str, account: Account, amount_minor: int, incoming: tuple[IncomingTransfer, ...] | None = None
    ) -> FreezeRequest:
        return FreezeRequest(
            idempotency_key=self.key(key),
            case_id=self._prefix,
            order_id=key,
            level=1,
            account=account,
            amount_minor=amount_minor,
            currency=CURRENCY,
            incoming=(transfer(INTO[account.id]),) if incoming is None else incoming,
        )

    def statement_request(
        self, key: str, account: Account, incoming: tuple[IncomingTransfer, ...] | None = None
    ) -> StatementRequest:
        return StatementRequest(
            idempotency_key=self.key(f"{key}/statement"),
            case_id=self._prefix,
            order_id=key,
            level=1,
            account=account,
            currency=CURRENCY,
            incoming=(transfer(INTO[account.id]),) if incoming is None else incoming,
        )

    def release_request(self, key: str, account: Account, amount_minor: int) -> ReleaseRequest:
        return ReleaseRequest(
            idempotency_key=self.key(key),
            case_id=self._prefix,
            order_id=key,
            account=account,
            amount_minor=amount_minor,
            currency=CURRENCY,
        )

    def extend_request(
        self,
        key: str,
        account: Account,
        amount_minor: int,
        change: HoldChange = HoldChange.RENEW_STOP,
        document: LegalDocument | None = None,
    ) -> ExtendRequest:
        """An extend of the hold on ``account`` for another 48 hours from now (a sandbox may
        refuse a term in the past)."""
        return ExtendRequest(
            idempotency_key=self.key(key),
            case_id=self._prefix,
            order_id=key,
            account=account,
            amount_minor=amount_minor,
            currency=CURRENCY,
            change=change,
            until=datetime.now(UTC) + timedelta(hours=48),
            document=document,
        )

    def return_request(
        self, key: str, account: Account, amount_minor: int, beneficiary: Account = VICTIM
    ) -> ReturnRequest:
        return ReturnRequest(
            idempotency_key=self.key(key),
            case_id=self._prefix,
            order_id=key,
            account=account,
            amount_minor=amount_minor,
            currency=CURRENCY,
            beneficiary=beneficiary,
        )

    async def decided(self, adapter: BankAdapter, request: FreezeRequest) -> FreezeAnswer:
        """Send ``request`` again (the status query) until the answer is not ``PDCR``."""
        deadline = time.monotonic() + self.decision_timeout_s
        while True:
            answer = await adapter.freeze(request)
            if answer.status != AnswerStatus.PDCR:
                return answer
            assert answer.held_minor == 0, "PDCR holds nothing"
            assert time.monotonic() < deadline, (
                f"{request.idempotency_key}: still PDCR after {self.decision_timeout_s}s"
            )
            await asyncio.sleep(self.poll_interval_s)

    async def assert_available(self, adapter: BankAdapter, account: Account, amount_minor: int) -> None:
        """Prove what is free on ``account`` (nothing held by earlier requests beyond what the test
        expects): a freeze under a new key for the whole balance holds exactly ``amount_minor``."""
        balance = {MULE.id: MULE_BALANCE, CALLBACK_MULE.id: CALLBACK_MULE_BALANCE}[account.id]
        probe = await self.decided(adapter, self.freeze_request(f"probe-{uuid.uuid4().hex[:8]}", account, balance))
        status = AnswerStatus.ACCR if amount_minor == balance else AnswerStatus.PECR
        assert (probe.status, probe.held_minor) == (status, amount_minor), (
            f"{account.id}: a freeze of the whole balance should hold {amount_minor}, got {probe}"
        )

    # ---- the tests ------------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_a_resent_freeze_gets_the_first_answer_and_holds_once(self, adapter: BankAdapter) -> None:
        request = self.freeze_request("k1", MULE, 400_000)
        first = await adapter.freeze(request)
        assert (first.status, first.held_minor, first.reason_code) == (AnswerStatus.ACCR, 400_000, "")
        assert first.balance_minor in (None, MULE_BALANCE)
        again = await adapter.freeze(request)
        assert _essence(again) == _essence(first)
        # only the remainder is left for a second freeze of the whole balance under a new key
        rest = await adapter.freeze(self.freeze_request("k2", MULE, MULE_BALANCE))
        assert (rest.status, rest.held_minor) == (AnswerStatus.PECR, MULE_BALANCE - 400_000)
        assert _essence(await adapter.freeze(request)) == _essence(first)

    @pytest.mark.asyncio
    async def test_concurrent_resends_hold_once(self, adapter: BankAdapter) -> None:
        request = self.freeze_request("k1", MULE, 400_000)
        answers = await asyncio.gather(*(adapter.freeze(request) for _ in range(5)))
        assert {_essence(a) for a in answers} == {_essence(answers[0])}
        assert (answers[0].status, answers[0].held_minor) == (AnswerStatus.ACCR, 400_000)
        await self.assert_available(adapter, MULE, MULE_BALANCE - 400_000)

    @pytest.mark.asyncio
    async def test_asking_more_than_is_there_holds_what_is_available(self, adapter: BankAdapter) -> None:
        # the victim sent 1,000,000; 450,000 of the account's money has moved on
        answer = await adapter.freeze(self.freeze_request("k1", MULE, 1_000_000))
        assert (answer.status, answer.held_minor, answer.reason_code) == (AnswerStatus.PECR, MULE_BALANCE, "")
        assert answer.balance_minor in (None, MULE_BALANCE)
        # nothing is left for another request
        again = await adapter.freeze(self.freeze_request("k2", MULE, 100_000))
        assert (again.status, again.held_minor) == (AnswerStatus.PECR, 0)

    @pytest.mark.asyncio
    async def test_an_unknown_account_is_rejected_with_ac01(self, adapter: BankAdapter) -> None:
        frozen = await adapter.freeze(self.freeze_request("k1", UNKNOWN, 100_000))
        assert (frozen.status, frozen.held_minor, frozen.reason_code) == (AnswerStatus.RJCR, 0, "AC01")
        statement = await adapter.statement(self.statement_request("k1", UNKNOWN))
        assert (statement.status, statement.reason_code, statement.statement) == (AnswerStatus.RJCR, "AC01", None)
        released = await adapter.release(self.release_request("r1", UNKNOWN, 100_000))
        assert (released.status, released.released_minor, released.reason_code) == (AnswerStatus.RJCR, 0, "AC01")

    @pytest.mark.asyncio
    async def test_a_closed_or_blocked_account_is_rejected_with_its_reason(self, adapter: BankAdapter) -> None:
        blocked = self.blocked_account()
        if blocked is None:
            pytest.skip(
                "the stopay-bank-network/1 format cannot mark an account closed (AC04) or "
                "blocked for legal reasons (LEGL); override blocked_account() where the "
                "sandbox has one"
            )
        assert blocked.reason_code in ("AC04", "LEGL")
        request = FreezeRequest(
            idempotency_key=self.key("k1"),
            case_id=self._prefix,
            order_id="k1",
            level=1,
            account=blocked.account,
            amount_minor=100_000,
            currency=CURRENCY,
            incoming=blocked.incoming,
        )
        answer = await self.decided(adapter, request)
        assert (answer.status, answer.held_minor, answer.reason_code) == (AnswerStatus.RJCR, 0, blocked.reason_code)

    @pytest.mark.asyncio
    async def test_a_holder_name_mismatch_is_rejected_with_be01(self, adapter: BankAdapter) -> None:
        impostor = Account(MULE.bank_code, MULE.number, "冒名顶替")
        frozen = await adapter.freeze(self.freeze_request("k1", impostor, 100_000, (transfer("CF-T1"),)))
        assert (frozen.status, frozen.held_minor, frozen.reason_code) == (AnswerStatus.RJCR, 0, "BE01")
        statement = await adapter.statement(self.statement_request("k2", impostor, (transfer("CF-T1"),)))
        assert (statement.status, statement.reason_code) == (AnswerStatus.RJCR, "BE01")
        await self.assert_available(adapter, MULE, MULE_BALANCE)

    @pytest.mark.asyncio
    async def test_a_named_transfer_that_does_not_match_is_rejected_with_noor(self, adapter: BankAdapter) -> None:
        spoiled = {
            "wrong amount": transfer("CF-T1", amount_minor=999_999),
            "unknown id": IncomingTransfer("CF-NONE", 1_000_000, _at(-3600)),
            "wrong time": transfer("CF-T1", at=_at(-3600 + 3600)),
            "another account's transfer": transfer("CF-T4"),
        }
        for n, (what, incoming) in enumerate(spoiled.items()):
            answer = await adapter.freeze(self.freeze_request(f"k{n}", MULE, 100_000, (incoming,)))
            assert (answer.status, answer.held_minor, answer.reason_code) == (AnswerStatus.RJCR, 0, "NOOR"), what
            statement = await adapter.statement(self.statement_request(f"k{n}", MULE, (incoming,)))
            assert (statement.status, statement.reason_code) == (AnswerStatus.RJCR, "NOOR"), what
        await self.assert_available(adapter, MULE, MULE_BALANCE)

    @pytest.mark.asyncio
    async def test_a_statement_shows_the_opening_balance_and_every_line(self, adapter: BankAdapter) -> None:
        answer = await adapter.statement(self.statement_request("k1", MULE))
        assert (answer.status, answer.reason_code) == (AnswerStatus.ACCR, "")
        assert answer.balance_minor in (None, MULE_BALANCE)
        _assert_statement(
            answer,
            MULE_OPENING,
            [
                ("credit", 1_000_000, "CF-T1", _at(-3600), VICTIM, None),
                ("debit", 300_000, "CF-T2", _at(-3000), MULE2, None),
                ("debit", 200_000, "CF-T3", _at(-2400), None, ExitKind.ATM),
            ],
        )
        level2 = await adapter.statement(self.statement_request("k2", MULE2))
        _assert_statement(level2, 0, [("credit", 300_000, "CF-T2", _at(-3000), MULE, None)])
        # a statement holds nothing and may be asked again
        again = await adapter.statement(self.statement_request("k1", MULE))
        assert again.statement == answer.statement
        await self.assert_available(adapter, MULE, MULE_BALANCE)

    @pytest.mark.asyncio
    async def test_a_release_gives_back_at_most_what_is_held_once_per_key(self, adapter: BankAdapter) -> None:
        frozen = await adapter.freeze(self.freeze_request("k1", MULE, 400_000))
        assert (frozen.status, frozen.held_minor) == (AnswerStatus.ACCR, 400_000)
        release = self.release_request("r1", MULE, 100_000)
        first = await adapter.release(release)
        assert (first.status, first.released_minor, first.reason_code) == (AnswerStatus.ACCR, 100_000, "")
        assert _essence(await adapter.release(release)) == _essence(first)
        # released once: 300,000 is still held, so 250,000 is free
        rest = await adapter.freeze(self.freeze_request("k2", MULE, MULE_BALANCE))
        assert (rest.status, rest.held_minor) == (AnswerStatus.PECR, 250_000)
        # asking back more than is held gives back what is held (300,000 + 250,000), once
        everything = self.release_request("r2", MULE, 10_000_000)
        all_back = await adapter.release(everything)
        assert (all_back.status, all_back.released_minor) == (AnswerStatus.ACCR, MULE_BALANCE)
        assert _essence(await adapter.release(everything)) == _essence(all_back)
        await self.assert_available(adapter, MULE, MULE_BALANCE)

    @pytest.mark.asyncio
    async def test_an_extend_keeps_at_most_what_is_held_once_per_key(self, adapter: BankAdapter) -> None:
        frozen = await adapter.freeze(self.freeze_request("k1", MULE, 400_000))
        assert (frozen.status, frozen.held_minor) == (AnswerStatus.ACCR, 400_000)
        renew = self.extend_request("e1", MULE, 300_000)
        answers = await asyncio.gather(*(adapter.extend(renew) for _ in range(3)))
        first = answers[0]
        assert (first.status, first.held_minor, first.reason_code) == (AnswerStatus.ACCR, 300_000, "")
        assert {_essence(a) for a in answers} == {_essence(first)}
        # a formal freeze, then its renewal, of more than is held keep what is held: no more
        document = LegalDocument(
            number=f"{self._prefix}/D1",
            approver="Officer Zhao",
            amount_minor=MULE_BALANCE,
            scope="account balance",
            interest_included=False,
        )
        for n, change in enumerate((HoldChange.FORMAL_FREEZE, HoldChange.RENEW_FREEZE), start=2):
            request = self.extend_request(f"e{n}", MULE, MULE_BALANCE, change, document)
            kept = await adapter.extend(request)
            assert (kept.status, kept.held_minor, kept.reason_code) == (AnswerStatus.ACCR, 400_000, ""), change
            assert _essence(await adapter.extend(request)) == _essence(kept)
        # extending held nothing more: the rest of the balance is still free
        await self.assert_available(adapter, MULE, MULE_BALANCE - 400_000)
        assert _essence(await adapter.extend(renew)) == _essence(first)

    @pytest.mark.asyncio
    async def test_an_extend_of_an_unknown_account_is_rejected_with_ac01(self, adapter: BankAdapter) -> None:
        answer = await adapter.extend(self.extend_request("e1", UNKNOWN, 100_000))
        assert (answer.status, answer.held_minor, answer.reason_code) == (AnswerStatus.RJCR, 0, "AC01")

    @pytest.mark.asyncio
    async def test_a_return_pays_at_most_what_is_held_once_per_key(self, adapter: BankAdapter) -> None:
        frozen = await adapter.freeze(self.freeze_request("k1", MULE, 400_000))
        assert (frozen.status, frozen.held_minor) == (AnswerStatus.ACCR, 400_000)
        request = self.return_request("p1", MULE, 150_000)
        answers = await asyncio.gather(*(adapter.return_funds(request) for _ in range(3)))
        first = answers[0]
        assert (first.status, first.returned_minor, first.reason_code) == (AnswerStatus.ACCR, 150_000, "")
        assert {_essence(a) for a in answers} == {_essence(first)}
        # paid once, out of the hold: 250,000 is still held and the free 150,000 is untouched
        # (the probe holds that 150,000)
        await self.assert_available(adapter, MULE, MULE_BALANCE - 400_000)
        assert _essence(await adapter.return_funds(request)) == _essence(first)
        # asking more than is held pays what is held (250,000 + the probe's 150,000), once
        everything = self.return_request("p2", MULE, 10_000_000)
        all_paid = await adapter.return_funds(everything)
        assert (all_paid.status, all_paid.returned_minor, all_paid.reason_code) == (AnswerStatus.ACCR, 400_000, "")
        assert _essence(await adapter.return_funds(everything)) == _essence(all_paid)
        await self.assert_available(adapter, MULE, 0)
        # the account's statement still reads, and shows the money paid out after its history
        paid = first.returned_minor + all_paid.returned_minor
        answer = await adapter.statement(self.statement_request("s1", MULE))
        assert (answer.status, answer.reason_code) == (AnswerStatus.ACCR, "")
        assert answer.balance_minor in (None, MULE_BALANCE - paid)
        statement = answer.statement
        assert statement is not None and statement.opening_balance_minor == MULE_OPENING
        history, returns = statement.lines[:3], statement.lines[3:]
        assert [line.txn_id for line in history] == ["CF-T1", "CF-T2", "CF-T3"]
        assert all(line.kind == "debit" and line.exit is None for line in returns), returns
        assert sum(line.amount_minor for line in returns) == paid
        for line in returns:
            other = line.counterparty
            assert other is None or (other.bank_code, other.number) == (VICTIM.bank_code, VICTIM.number)
        seqs = [line.seq for line in statement.lines]
        assert seqs == sorted(set(seqs)), f"seq must increase: {seqs}"

    @pytest.mark.asyncio
    async def test_a_return_on_an_unknown_account_is_rejected_with_ac01(self, adapter: BankAdapter) -> None:
        answer = await adapter.return_funds(self.return_request("p1", UNKNOWN, 100_000))
        assert (answer.status, answer.returned_minor, answer.reason_code) == (AnswerStatus.RJCR, 0, "AC01")

    @pytest.mark.asyncio
    async def test_a_callback_bank_s_answer_survives_a_restart(self, adapter: BankAdapter) -> None:
        sync_request = self.freeze_request("k0", MULE, 400_000)
        sync_first = await adapter.freeze(sync_request)
        assert (sync_first.status, sync_first.held_minor) == (AnswerStatus.ACCR, 400_000)
        request = self.freeze_request("k1", CALLBACK_MULE, CALLBACK_MULE_BALANCE)
        first = await adapter.freeze(request)
        if self.callback_answers_pending:
            assert (first.status, first.held_minor, first.reason_code) == (AnswerStatus.PDCR, 0, "")
        else:
            assert (first.status, first.held_minor) == (AnswerStatus.ACCR, CALLBACK_MULE_BALANCE)
        restarted = await self._restarted(adapter)
        # the banks keep what they did before the restart (a restart() that provisions the sandbox
        # afresh fails here): the hold at the sync bank is still there, and so is its answer
        await self.assert_available(restarted, MULE, MULE_BALANCE - 400_000)
        assert _essence(await restarted.freeze(sync_request)) == _essence(sync_first)
        # stopay asks again under the same key: the final answer, and nothing held twice
        final = await self.decided(restarted, request)
        assert (final.status, final.held_minor, final.reason_code) == (AnswerStatus.ACCR, CALLBACK_MULE_BALANCE, "")
        assert final.balance_minor in (None, CALLBACK_MULE_BALANCE)
        if not self.callback_answers_pending:
            assert _essence(final) == _essence(first)
        assert _essence(await restarted.freeze(request)) == _essence(final)
        more = await self.decided(restarted, self.freeze_request("k2", CALLBACK_MULE, CALLBACK_MULE_BALANCE))
        assert (more.status, more.held_minor) == (AnswerStatus.PECR, 0)


def _assert_statement(
    answer: StatementAnswer, opening: int, lines: list[tuple[str, int, str, datetime, Account | None, ExitKind | None]]
) -> None:
    """The statement has this opening balance and these lines, in order; seq numbers are the
    bank's own but must increase; a counterparty's holder name may be left out."""
    statement: Statement | None = answer.statement
    assert statement is not None, answer
    assert statement.opening_balance_minor == opening
    got = [
        (
            line.kind,
            line.amount_minor,
            line.txn_id,
            line.at,
            None if line.counterparty is None else (line.counterparty.bank_code, line.counterparty.number),
            line.exit,
        )
        for line in statement.lines
    ]
    want = [
        (kind, amount, txn, at, None if other is None else (other.bank_code, other.number), exit_kind)
        for kind, amount, txn, at, other, exit_kind in lines
    ]
    assert got == want
    seqs = [line.seq for line in statement.lines]
    assert seqs == sorted(set(seqs)), f"seq must increase: {seqs}"
    for line, (*_, other, _) in zip(statement.lines, lines, strict=True):
        if other is not None:
            assert line.counterparty is not None and line.counterparty.holder_name in ("", other.holder_name)

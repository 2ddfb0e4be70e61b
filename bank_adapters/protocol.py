"""The contract between stopay and a bank: what a freeze request says and what a bank answers.

Everything here is plain data. An adapter turns a :class:`FreezeRequest` into whatever its bank
speaks and turns the bank's reply into a :class:`FreezeAnswer`. Amounts are integer minor units
(fen for CNY); times are timezone-aware ``datetime`` values.

Status vocabulary follows ISO 20022 camt.029:

* ``ACCR`` – accepted: the whole requested amount is held.
* ``PECR`` – partially executed: less than requested is held (possibly nothing; the rest moved on).
* ``PDCR`` – pending: the bank acknowledged and will answer later through stopay's callback API.
* ``RJCR`` – rejected, with a reason code (``AC01`` unknown account, ``AC04`` closed, ``BE01`` holder
  name mismatch, ``NOOR`` the named incoming transfer does not match, ``LEGL`` legal reasons, ...).

Errors that may pass (bank down, timeout, overloaded) are raised as :class:`BankUnavailable`;
stopay retries them with the same idempotency key. Errors that will not pass by sending the same
request again soon (the bank finds the request malformed, the bank's side fails in a way a resend
does not cure, the bank's answer cannot be read) are raised as :class:`BankRefused`; they are not
a business refusal, which is an ``RJCR`` answer. Anything else an adapter raises is treated like
:class:`BankUnavailable`, so an adapter bug never loses an order.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable


class AnswerStatus(str, enum.Enum):
    ACCR = "ACCR"
    PECR = "PECR"
    PDCR = "PDCR"
    RJCR = "RJCR"


class ExitKind(str, enum.Enum):
    """Where money leaves the banking network for good."""

    CASH = "CASH"
    ATM = "ATM"
    MERCHANT = "MERCHANT"
    CRYPTO = "CRYPTO"
    CROSS_BORDER = "CROSS_BORDER"
    THIRD_PARTY_PAYMENT = "THIRD_PARTY_PAYMENT"


@dataclass(frozen=True, slots=True)
class Account:
    bank_code: str
    number: str
    holder_name: str = ""

    @property
    def id(self) -> str:
        return f"{self.bank_code}:{self.number}"


@dataclass(frozen=True, slots=True)
class IncomingTransfer:
    """A transfer that brought the victim's money into the account to freeze; the bank verifies it."""

    txn_id: str
    amount_minor: int
    transferred_at: datetime
    payer: Account | None = None


@dataclass(frozen=True, slots=True)
class FreezeRequest:
    """camt.056 with reason FRAD: hold up to ``amount_minor`` on ``account``.

    ``idempotency_key`` is the same on every resend of one order; a bank must answer a resend with
    the answer it gave (or would give) the first time and never hold twice.
    """

    idempotency_key: str
    case_id: str
    order_id: str
    level: int
    account: Account
    amount_minor: int
    currency: str
    incoming: tuple[IncomingTransfer, ...]
    reason: str = "FRAD"


@dataclass(frozen=True, slots=True)
class StatementRequest:
    """A status query (pacs.028-like) for the statement of ``account`` since the earliest of the
    ``incoming`` transfers, which the bank verifies as it would for a freeze. Holds nothing."""

    idempotency_key: str
    case_id: str
    order_id: str
    level: int
    account: Account
    currency: str
    incoming: tuple[IncomingTransfer, ...]


@dataclass(frozen=True, slots=True)
class ReleaseRequest:
    """Give back up to ``amount_minor`` of what stopay's earlier freezes hold on ``account``
    (money found not to be the victim's after all). Idempotent on ``idempotency_key``."""

    idempotency_key: str
    case_id: str
    order_id: str
    account: Account
    amount_minor: int
    currency: str
    reason: str = "excess"


class HoldChange(str, enum.Enum):
    """What an :class:`ExtendRequest` asks of a hold stopay's freezes placed on an account."""

    RENEW_STOP = "RENEW_STOP"  # the emergency stop lasts another period
    FORMAL_FREEZE = "FORMAL_FREEZE"  # the stop becomes a formal freeze under a legal document
    RENEW_FREEZE = "RENEW_FREEZE"  # the formal freeze is renewed, under a new document, before it lapses


@dataclass(frozen=True, slots=True)
class LegalDocument:
    """The freezing decision a formal freeze (or its renewal) rests on."""

    number: str
    approver: str
    amount_minor: int
    scope: str
    interest_included: bool


@dataclass(frozen=True, slots=True)
class ExtendRequest:
    """Keep holding ``amount_minor`` of what stopay's freezes hold on ``account`` until ``until``,
    as ``change`` says; ``document`` is set for a formal freeze and its renewal. The bank answers
    ``ACCR`` with what it now holds under the extended hold (at most what it held), or ``RJCR``
    with a reason code. Idempotent on ``idempotency_key``."""

    idempotency_key: str
    case_id: str
    order_id: str
    account: Account
    amount_minor: int
    currency: str
    change: HoldChange
    until: datetime
    document: LegalDocument | None = None


@dataclass(frozen=True, slots=True)
class ReturnRequest:
    """pacs.004, reason FR01 (fraud): pay ``amount_minor`` of what stopay's freezes hold on
    ``account`` to the victim's account ``beneficiary``. The bank answers ``ACCR`` with what it paid
    (at most what it held there), or ``RJCR`` with a reason code. Idempotent on
    ``idempotency_key``: a resend never pays twice."""

    idempotency_key: str
    case_id: str
    order_id: str
    account: Account
    amount_minor: int
    currency: str
    beneficiary: Account
    reason: str = "FR01"


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One movement on the frozen account after (and including) the first incoming transfer.

    Exactly one of ``counterparty`` (another account) and ``exit`` (money left the network) is set
    on a debit; a credit from outside the network has neither.
    """

    seq: int
    at: datetime
    kind: str  # "credit" | "debit"
    amount_minor: int
    txn_id: str
    counterparty: Account | None = None
    exit: ExitKind | None = None


@dataclass(frozen=True, slots=True)
class Statement:
    """The account's history from just before the earliest incoming transfer named in the request.

    ``opening_balance_minor`` is the balance just before that transfer; ``lines`` follow in order of
    time, then the bank's sequence number.
    """

    opening_balance_minor: int
    lines: tuple[StatementLine, ...] = ()


@dataclass(frozen=True, slots=True)
class FreezeAnswer:
    status: AnswerStatus
    held_minor: int = 0
    balance_minor: int | None = None
    reason_code: str = ""
    statement: Statement | None = None
    bank_reference: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StatementAnswer:
    """``ACCR`` with the statement, or ``RJCR`` with a reason code (same codes as a freeze)."""

    status: AnswerStatus
    statement: Statement | None = None
    balance_minor: int | None = None
    reason_code: str = ""
    bank_reference: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReleaseAnswer:
    """``ACCR`` with what was released (at most what was held), or ``RJCR`` with a reason code."""

    status: AnswerStatus
    released_minor: int = 0
    reason_code: str = ""
    bank_reference: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExtendAnswer:
    """``ACCR`` with what stays held under the extended hold, or ``RJCR`` with a reason code."""

    status: AnswerStatus
    held_minor: int = 0
    reason_code: str = ""
    bank_reference: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReturnAnswer:
    """``ACCR`` with what was paid to the victim (at most what was held), or ``RJCR``."""

    status: AnswerStatus
    returned_minor: int = 0
    reason_code: str = ""
    bank_reference: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


class BankUnavailable(Exception):
    """The bank could not be reached or did not answer in time; the request may be sent again."""


class BankRefused(Exception):
    """The request failed in a way that sending it again soon will not cure: the bank (or its
    gateway) called it malformed, failed on it, or answered with something that cannot be read.

    Unlike :class:`BankUnavailable` this will not pass by retrying with backoff; the order needs an
    operator (or a fixed adapter or bank). It is not a business refusal: a bank that refuses to
    hold answers ``RJCR`` with a reason code instead.
    """


@runtime_checkable
class BankAdapter(Protocol):
    """What stopay needs of a bank connection.

    ``bank_codes`` are the banks this adapter instance serves. ``start`` is awaited once before the
    first request and ``close`` once at shutdown. ``statement`` and ``freeze`` may be called
    concurrently. stopay first asks for the statement, works out how much of the money there is the
    victim's under its attribution rule, then asks to freeze exactly that; where a later, fuller view
    shows less, it asks to release the difference. Later in a hold's life it asks to extend it
    (renew the emergency stop, turn it into a formal freeze, renew that), to release it (the account
    is unrelated, or the hold lapsed) and to return the money held to the victims.
    """

    @property
    def bank_codes(self) -> frozenset[str]: ...

    async def start(self) -> None: ...

    async def statement(self, request: StatementRequest) -> StatementAnswer: ...

    async def freeze(self, request: FreezeRequest) -> FreezeAnswer: ...

    async def release(self, request: ReleaseRequest) -> ReleaseAnswer: ...

    async def extend(self, request: ExtendRequest) -> ExtendAnswer: ...

    async def return_funds(self, request: ReturnRequest) -> ReturnAnswer: ...

    async def close(self) -> None: ...


class AdapterFactory(Protocol):
    """The callable an entry point of the group ``stopay.bank_adapters`` names.

    ``options`` come from stopay's configuration for this adapter (for the simulated adapter:
    ``{"network": "path/to/scenario.json"}``).
    """

    def __call__(self, options: Mapping[str, Any]) -> BankAdapter: ...

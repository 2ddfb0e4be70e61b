"""The protocol dataclasses (:mod:`bank_adapters.protocol`) as ``bank_adapters.remote.v1`` messages
and back, field for field.

``x == from_message(to_message(x))`` holds for every request and answer, with these rules:

* Times travel as ``google.protobuf.Timestamp``. They must be timezone-aware; they come back in
  UTC (the same instant, so they compare equal). Nanoseconds a Python ``datetime`` cannot hold are
  dropped (floor to the microsecond).
* ``None`` travels as an absent field: ``balance_minor`` is a proto3 ``optional``, an account, a
  statement or a legal document is an unset message, ``exit`` is ``EXIT_KIND_UNSPECIFIED``.
* Every enum (a status, ``exit``, an extend's ``change``, a statement line's ``kind``) travels as
  the proto enum of the same name, through one table each below; a value missing from its table
  (or the zero ``*_UNSPECIFIED`` where a value is required) raises :class:`ConversionError`.
* ``extra`` travels as a ``google.protobuf.Struct``: JSON values only (str, bool, None, int, float,
  lists, dicts with str keys). A Struct holds numbers as doubles, so an integral number comes back
  as an ``int`` and integers beyond +-2**53 are refused rather than rounded; tuples come back as
  lists.

Anything that cannot be converted exactly (a naive time, an unknown status, exit or change, a
missing required field, an integer that does not fit int64) raises :class:`ConversionError`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, ParamSpec, TypeVar

from google.protobuf import struct_pb2, timestamp_pb2

from bank_adapters.protocol import (
    Account,
    AnswerStatus,
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
    StatementLine,
    StatementRequest,
)
from bank_adapters.remote.v1 import remote_bank_pb2 as pb

__all__ = [
    "ConversionError",
    "account_from_message",
    "account_to_message",
    "extend_answer_from_message",
    "extend_answer_to_message",
    "extend_request_from_message",
    "extend_request_to_message",
    "freeze_answer_from_message",
    "freeze_answer_to_message",
    "freeze_request_from_message",
    "freeze_request_to_message",
    "freeze_status_request_from_message",
    "freeze_status_request_to_message",
    "from_message",
    "release_answer_from_message",
    "release_answer_to_message",
    "release_request_from_message",
    "release_request_to_message",
    "return_answer_from_message",
    "return_answer_to_message",
    "return_request_from_message",
    "return_request_to_message",
    "statement_answer_from_message",
    "statement_answer_to_message",
    "statement_request_from_message",
    "statement_request_to_message",
    "to_message",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EXACT_INT = 2**53  # largest magnitude a double (Struct number) holds exactly for every integer

P = ParamSpec("P")
R = TypeVar("R")


class ConversionError(ValueError):
    """A value that has no exact counterpart on the other side."""


def _converting(fn: Callable[P, R]) -> Callable[P, R]:
    """Re-raise what protobuf and datetime raise on bad values as :class:`ConversionError`."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ConversionError:
            raise
        except (ValueError, TypeError, OverflowError, AttributeError) as exc:
            raise ConversionError(f"{fn.__name__}: {exc}") from exc

    return wrapper


# ---- small parts ---------------------------------------------------------------------------------


def _timestamp(moment: datetime, what: str) -> timestamp_pb2.Timestamp:
    if not isinstance(moment, datetime):
        raise ConversionError(f"{what} must be a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ConversionError(f"{what} must be a timezone-aware datetime")
    delta = moment - _EPOCH
    return timestamp_pb2.Timestamp(seconds=delta.days * 86400 + delta.seconds, nanos=delta.microseconds * 1000)


def _datetime(message: Any, field: str, what: str) -> datetime:
    if not message.HasField(field):
        raise ConversionError(f"{what} is required")
    ts: timestamp_pb2.Timestamp = getattr(message, field)
    if not 0 <= ts.nanos < 1_000_000_000:
        raise ConversionError(f"{what}: nanos must be from 0 to 999,999,999")
    try:
        return _EPOCH + timedelta(seconds=ts.seconds, microseconds=ts.nanos // 1000)
    except OverflowError as exc:
        raise ConversionError(f"{what}: out of range") from exc


def _optional_account(message: Any, field: str) -> Account | None:
    return account_from_message(getattr(message, field)) if message.HasField(field) else None


def _required_account(message: Any, field: str, what: str) -> Account:
    if not message.HasField(field):
        raise ConversionError(f"{what} is required")
    return account_from_message(getattr(message, field))


def _enum(kind: Any, value: Any, what: str) -> Any:
    """``value`` as a member of the protocol enum ``kind`` (a member, or its string value)."""
    try:
        return kind(value)
    except ValueError:
        raise ConversionError(f"{what} must be one of {[m.value for m in kind]}, got {value!r}") from None


V = TypeVar("V", bound=int)


class _Table(Generic[V]):
    """One protocol enum (or set of names) and its proto enum, both ways; nothing else converts."""

    def __init__(self, what: str, pairs: Mapping[Any, V]) -> None:
        self.what = what
        self._numbers = dict(pairs)
        self._values: dict[int, Any] = {number: value for value, number in pairs.items()}

    def number(self, value: Any) -> V:
        try:
            return self._numbers[value]
        except (KeyError, TypeError):
            raise ConversionError(f"{self.what} must be one of {self._known()}, got {value!r}") from None

    def value(self, number: int) -> Any:
        try:
            return self._values[number]
        except KeyError:
            raise ConversionError(f"{self.what} must be one of {self._known()}, got {number!r}") from None

    def _known(self) -> list[Any]:
        return [getattr(v, "value", v) for v in self._numbers]


_STATUS = _Table(
    "status",
    {
        AnswerStatus.ACCR: pb.ANSWER_STATUS_ACCR,
        AnswerStatus.PECR: pb.ANSWER_STATUS_PECR,
        AnswerStatus.PDCR: pb.ANSWER_STATUS_PDCR,
        AnswerStatus.RJCR: pb.ANSWER_STATUS_RJCR,
    },
)
_CHANGE = _Table(
    "change",
    {
        HoldChange.RENEW_STOP: pb.HOLD_CHANGE_RENEW_STOP,
        HoldChange.FORMAL_FREEZE: pb.HOLD_CHANGE_FORMAL_FREEZE,
        HoldChange.RENEW_FREEZE: pb.HOLD_CHANGE_RENEW_FREEZE,
    },
)
_EXIT = _Table(
    "exit",
    {
        ExitKind.CASH: pb.EXIT_KIND_CASH,
        ExitKind.ATM: pb.EXIT_KIND_ATM,
        ExitKind.MERCHANT: pb.EXIT_KIND_MERCHANT,
        ExitKind.CRYPTO: pb.EXIT_KIND_CRYPTO,
        ExitKind.CROSS_BORDER: pb.EXIT_KIND_CROSS_BORDER,
        ExitKind.THIRD_PARTY_PAYMENT: pb.EXIT_KIND_THIRD_PARTY_PAYMENT,
    },
)
_LINE_KIND = _Table("kind", {"credit": pb.LINE_KIND_CREDIT, "debit": pb.LINE_KIND_DEBIT})


def _status(value: int) -> AnswerStatus:
    status: AnswerStatus = _STATUS.value(value)
    return status


def _optional_int(message: Any, field: str) -> int | None:
    return getattr(message, field) if message.HasField(field) else None


def _struct(extra: Mapping[str, Any]) -> struct_pb2.Struct | None:
    if not extra:
        return None
    struct = struct_pb2.Struct()
    struct.update(_json_object(extra, "extra"))
    return struct


def _json_object(value: Mapping[str, Any], path: str) -> dict[str, Any]:
    out = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise ConversionError(f"{path}: keys must be strings, got {key!r}")
        out[key] = _json_value(item, f"{path}.{key}")
    return out


def _json_value(value: Any, path: str) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)  # a str enum travels as its value
    if isinstance(value, int):
        if abs(value) > _EXACT_INT:
            raise ConversionError(f"{path}: integer {value} does not fit a Struct number exactly")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConversionError(f"{path}: {value} is not a JSON number")
        return value
    if isinstance(value, Mapping):
        return _json_object(value, path)
    if isinstance(value, list | tuple):
        return [_json_value(v, f"{path}[{i}]") for i, v in enumerate(value)]
    raise ConversionError(f"{path}: {type(value).__name__} is not a JSON value")


def _extra(message: Any) -> dict[str, Any]:
    if not message.HasField("extra"):
        return {}
    return {key: _from_value(value) for key, value in message.extra.fields.items()}


def _from_value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        if number.is_integer() and abs(number) <= _EXACT_INT:
            return int(number)
        return number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return {k: _from_value(v) for k, v in value.struct_value.fields.items()}
    if kind == "list_value":
        return [_from_value(v) for v in value.list_value.values]
    return None  # null_value, or no kind set


# ---- accounts and transfers ----------------------------------------------------------------------


@_converting
def account_to_message(account: Account) -> pb.Account:
    return pb.Account(bank_code=account.bank_code, number=account.number, holder_name=account.holder_name)


@_converting
def account_from_message(message: pb.Account) -> Account:
    return Account(bank_code=message.bank_code, number=message.number, holder_name=message.holder_name)


def _incoming_to_message(transfer: IncomingTransfer) -> pb.IncomingTransfer:
    return pb.IncomingTransfer(
        txn_id=transfer.txn_id,
        amount_minor=transfer.amount_minor,
        transferred_at=_timestamp(transfer.transferred_at, f"incoming {transfer.txn_id} time"),
        payer=None if transfer.payer is None else account_to_message(transfer.payer),
    )


def _incoming_from_message(message: pb.IncomingTransfer) -> IncomingTransfer:
    return IncomingTransfer(
        txn_id=message.txn_id,
        amount_minor=message.amount_minor,
        transferred_at=_datetime(message, "transferred_at", f"incoming {message.txn_id} time"),
        payer=_optional_account(message, "payer"),
    )


# ---- requests ------------------------------------------------------------------------------------


@_converting
def statement_request_to_message(request: StatementRequest) -> pb.StatementRequest:
    return pb.StatementRequest(
        idempotency_key=request.idempotency_key,
        case_id=request.case_id,
        order_id=request.order_id,
        level=request.level,
        account=account_to_message(request.account),
        currency=request.currency,
        incoming=[_incoming_to_message(t) for t in request.incoming],
    )


@_converting
def statement_request_from_message(message: pb.StatementRequest) -> StatementRequest:
    return StatementRequest(
        idempotency_key=message.idempotency_key,
        case_id=message.case_id,
        order_id=message.order_id,
        level=message.level,
        account=_required_account(message, "account", "account"),
        currency=message.currency,
        incoming=tuple(_incoming_from_message(t) for t in message.incoming),
    )


@_converting
def freeze_request_to_message(request: FreezeRequest) -> pb.FreezeRequest:
    return pb.FreezeRequest(
        idempotency_key=request.idempotency_key,
        case_id=request.case_id,
        order_id=request.order_id,
        level=request.level,
        account=account_to_message(request.account),
        amount_minor=request.amount_minor,
        currency=request.currency,
        incoming=[_incoming_to_message(t) for t in request.incoming],
        reason=request.reason,
    )


@_converting
def freeze_request_from_message(message: pb.FreezeRequest) -> FreezeRequest:
    return FreezeRequest(
        idempotency_key=message.idempotency_key,
        case_id=message.case_id,
        order_id=message.order_id,
        level=message.level,
        account=_required_account(message, "account", "account"),
        amount_minor=message.amount_minor,
        currency=message.currency,
        incoming=tuple(_incoming_from_message(t) for t in message.incoming),
        reason=message.reason,
    )


@_converting
def release_request_to_message(request: ReleaseRequest) -> pb.ReleaseRequest:
    return pb.ReleaseRequest(
        idempotency_key=request.idempotency_key,
        case_id=request.case_id,
        order_id=request.order_id,
        account=account_to_message(request.account),
        amount_minor=request.amount_minor,
        currency=request.currency,
        reason=request.reason,
    )


@_converting
def release_request_from_message(message: pb.ReleaseRequest) -> ReleaseRequest:
    return ReleaseRequest(
        idempotency_key=message.idempotency_key,
        case_id=message.case_id,
        order_id=message.order_id,
        account=_required_account(message, "account", "account"),
        amount_minor=message.amount_minor,
        currency=message.currency,
        reason=message.reason,
    )


def _document_to_message(document: LegalDocument | None) -> pb.LegalDocument | None:
    if document is None:
        return None
    return pb.LegalDocument(
        number=document.number,
        approver=document.approver,
        amount_minor=document.amount_minor,
        scope=document.scope,
        interest_included=document.interest_included,
    )


def _document_from_message(message: pb.ExtendRequest) -> LegalDocument | None:
    if not message.HasField("document"):
        return None
    document = message.document
    return LegalDocument(
        number=document.number,
        approver=document.approver,
        amount_minor=document.amount_minor,
        scope=document.scope,
        interest_included=document.interest_included,
    )


def _change(value: int) -> HoldChange:
    change: HoldChange = _CHANGE.value(value)
    return change


@_converting
def extend_request_to_message(request: ExtendRequest) -> pb.ExtendRequest:
    return pb.ExtendRequest(
        idempotency_key=request.idempotency_key,
        case_id=request.case_id,
        order_id=request.order_id,
        account=account_to_message(request.account),
        amount_minor=request.amount_minor,
        currency=request.currency,
        change=_CHANGE.number(_enum(HoldChange, request.change, "change")),
        until=_timestamp(request.until, "until"),
        document=_document_to_message(request.document),
    )


@_converting
def extend_request_from_message(message: pb.ExtendRequest) -> ExtendRequest:
    return ExtendRequest(
        idempotency_key=message.idempotency_key,
        case_id=message.case_id,
        order_id=message.order_id,
        account=_required_account(message, "account", "account"),
        amount_minor=message.amount_minor,
        currency=message.currency,
        change=_change(message.change),
        until=_datetime(message, "until", "until"),
        document=_document_from_message(message),
    )


@_converting
def return_request_to_message(request: ReturnRequest) -> pb.ReturnRequest:
    return pb.ReturnRequest(
        idempotency_key=request.idempotency_key,
        case_id=request.case_id,
        order_id=request.order_id,
        account=account_to_message(request.account),
        amount_minor=request.amount_minor,
        currency=request.currency,
        beneficiary=account_to_message(request.beneficiary),
        reason=request.reason,
    )


@_converting
def return_request_from_message(message: pb.ReturnRequest) -> ReturnRequest:
    return ReturnRequest(
        idempotency_key=message.idempotency_key,
        case_id=message.case_id,
        order_id=message.order_id,
        account=_required_account(message, "account", "account"),
        amount_minor=message.amount_minor,
        currency=message.currency,
        beneficiary=_required_account(message, "beneficiary", "beneficiary"),
        reason=message.reason,
    )


@_converting
def freeze_status_request_to_message(idempotency_key: str, account: Account) -> pb.FreezeStatusRequest:
    return pb.FreezeStatusRequest(idempotency_key=idempotency_key, account=account_to_message(account))


@_converting
def freeze_status_request_from_message(message: pb.FreezeStatusRequest) -> tuple[str, Account]:
    """``(idempotency_key, account)`` of a pacs.028 status query."""
    return message.idempotency_key, _required_account(message, "account", "account")


# ---- statements ----------------------------------------------------------------------------------


def _line_to_message(line: StatementLine) -> pb.StatementLine:
    return pb.StatementLine(
        seq=line.seq,
        at=_timestamp(line.at, f"statement line {line.seq} time"),
        kind=_LINE_KIND.number(line.kind),
        amount_minor=line.amount_minor,
        txn_id=line.txn_id,
        counterparty=None if line.counterparty is None else account_to_message(line.counterparty),
        exit=pb.EXIT_KIND_UNSPECIFIED if line.exit is None else _EXIT.number(_enum(ExitKind, line.exit, "exit")),
    )


def _line_from_message(message: pb.StatementLine) -> StatementLine:
    exit_kind = None
    if message.exit:
        try:
            exit_kind = _EXIT.value(message.exit)
        except ConversionError as exc:
            raise ConversionError(f"statement line {message.seq}: {exc}") from None
    at = _datetime(message, "at", f"statement line {message.seq} time")
    try:
        kind = _LINE_KIND.value(message.kind)
    except ConversionError as exc:
        raise ConversionError(f"statement line {message.seq}: {exc}") from None
    return StatementLine(
        seq=message.seq,
        at=at,
        kind=kind,
        amount_minor=message.amount_minor,
        txn_id=message.txn_id,
        counterparty=_optional_account(message, "counterparty"),
        exit=exit_kind,
    )


def _statement_to_message(statement: Statement | None) -> pb.Statement | None:
    if statement is None:
        return None
    return pb.Statement(
        opening_balance_minor=statement.opening_balance_minor,
        lines=[_line_to_message(line) for line in statement.lines],
    )


def _statement_from_message(message: Any) -> Statement | None:
    if not message.HasField("statement"):
        return None
    statement = message.statement
    return Statement(
        opening_balance_minor=statement.opening_balance_minor,
        lines=tuple(_line_from_message(line) for line in statement.lines),
    )


# ---- answers -------------------------------------------------------------------------------------


@_converting
def statement_answer_to_message(answer: StatementAnswer) -> pb.StatementAnswer:
    return pb.StatementAnswer(
        status=_STATUS.number(_enum(AnswerStatus, answer.status, "status")),
        statement=_statement_to_message(answer.statement),
        balance_minor=answer.balance_minor,
        reason_code=answer.reason_code,
        bank_reference=answer.bank_reference,
        extra=_struct(answer.extra),
    )


@_converting
def statement_answer_from_message(message: pb.StatementAnswer) -> StatementAnswer:
    return StatementAnswer(
        status=_status(message.status),
        statement=_statement_from_message(message),
        balance_minor=_optional_int(message, "balance_minor"),
        reason_code=message.reason_code,
        bank_reference=message.bank_reference,
        extra=_extra(message),
    )


@_converting
def freeze_answer_to_message(answer: FreezeAnswer) -> pb.FreezeAnswer:
    return pb.FreezeAnswer(
        status=_STATUS.number(_enum(AnswerStatus, answer.status, "status")),
        held_minor=answer.held_minor,
        balance_minor=answer.balance_minor,
        reason_code=answer.reason_code,
        statement=_statement_to_message(answer.statement),
        bank_reference=answer.bank_reference,
        extra=_struct(answer.extra),
    )


@_converting
def freeze_answer_from_message(message: pb.FreezeAnswer) -> FreezeAnswer:
    return FreezeAnswer(
        status=_status(message.status),
        held_minor=message.held_minor,
        balance_minor=_optional_int(message, "balance_minor"),
        reason_code=message.reason_code,
        statement=_statement_from_message(message),
        bank_reference=message.bank_reference,
        extra=_extra(message),
    )


@_converting
def release_answer_to_message(answer: ReleaseAnswer) -> pb.ReleaseAnswer:
    return pb.ReleaseAnswer(
        status=_STATUS.number(_enum(AnswerStatus, answer.status, "status")),
        released_minor=answer.released_minor,
        reason_code=answer.reason_code,
        bank_reference=answer.bank_reference,
        extra=_struct(answer.extra),
    )


@_converting
def release_answer_from_message(message: pb.ReleaseAnswer) -> ReleaseAnswer:
    return ReleaseAnswer(
        status=_status(message.status),
        released_minor=message.released_minor,
        reason_code=message.reason_code,
        bank_reference=message.bank_reference,
        extra=_extra(message),
    )


@_converting
def extend_answer_to_message(answer: ExtendAnswer) -> pb.ExtendAnswer:
    return pb.ExtendAnswer(
        status=_STATUS.number(_enum(AnswerStatus, answer.status, "status")),
        held_minor=answer.held_minor,
        reason_code=answer.reason_code,
        bank_reference=answer.bank_reference,
        extra=_struct(answer.extra),
    )


@_converting
def extend_answer_from_message(message: pb.ExtendAnswer) -> ExtendAnswer:
    return ExtendAnswer(
        status=_status(message.status),
        held_minor=message.held_minor,
        reason_code=message.reason_code,
        bank_reference=message.bank_reference,
        extra=_extra(message),
    )


@_converting
def return_answer_to_message(answer: ReturnAnswer) -> pb.ReturnAnswer:
    return pb.ReturnAnswer(
        status=_STATUS.number(_enum(AnswerStatus, answer.status, "status")),
        returned_minor=answer.returned_minor,
        reason_code=answer.reason_code,
        bank_reference=answer.bank_reference,
        extra=_struct(answer.extra),
    )


@_converting
def return_answer_from_message(message: pb.ReturnAnswer) -> ReturnAnswer:
    return ReturnAnswer(
        status=_status(message.status),
        returned_minor=message.returned_minor,
        reason_code=message.reason_code,
        bank_reference=message.bank_reference,
        extra=_extra(message),
    )


# ---- by type -------------------------------------------------------------------------------------

_TO: dict[type, Callable[[Any], Any]] = {
    StatementRequest: statement_request_to_message,
    FreezeRequest: freeze_request_to_message,
    ReleaseRequest: release_request_to_message,
    ExtendRequest: extend_request_to_message,
    ReturnRequest: return_request_to_message,
    StatementAnswer: statement_answer_to_message,
    FreezeAnswer: freeze_answer_to_message,
    ReleaseAnswer: release_answer_to_message,
    ExtendAnswer: extend_answer_to_message,
    ReturnAnswer: return_answer_to_message,
    Account: account_to_message,
}
_FROM: dict[type, Callable[[Any], Any]] = {
    pb.StatementRequest: statement_request_from_message,
    pb.FreezeRequest: freeze_request_from_message,
    pb.ReleaseRequest: release_request_from_message,
    pb.ExtendRequest: extend_request_from_message,
    pb.ReturnRequest: return_request_from_message,
    pb.StatementAnswer: statement_answer_from_message,
    pb.FreezeAnswer: freeze_answer_from_message,
    pb.ReleaseAnswer: release_answer_from_message,
    pb.ExtendAnswer: extend_answer_from_message,
    pb.ReturnAnswer: return_answer_from_message,
    pb.Account: account_from_message,
    pb.FreezeStatusRequest: freeze_status_request_from_message,
}


def to_message(value: Any) -> Any:
    """The message for a protocol request, answer or account."""
    convert = _TO.get(type(value))
    if convert is None:
        raise TypeError(f"no message for {type(value).__name__}")
    return convert(value)


def from_message(message: Any) -> Any:
    """The protocol dataclass for a ``bank_adapters.remote.v1`` message."""
    convert = _FROM.get(type(message))
    if convert is None:
        raise TypeError(f"no protocol value for {type(message).__name__}")
    return convert(message)

"""A bank's answer as it can be recorded: checked at the adapter boundary, before anything is written.

A bank, or an adapter, may answer with text PostgreSQL cannot store (a NUL character) or that has
no business in a record (other control characters, a reference of a megabyte). Such text is kept,
not refused, so the order goes on and the bank's words stay recognisable as evidence: every control
character (and any lone surrogate) is written out as an escape (``\\x00``, ``\\x1b``, ``\\ud800``)
and an overlong field is cut to its limit, ending in ``…``. A number out of the 64-bit range the
database keeps makes no sense as an amount: the answer is not understood (``UnknownAnswer``), and
the order is asked again like after any answer that makes no sense, until its delivery deadline.
"""

from __future__ import annotations

import re
from dataclasses import fields, replace
from typing import Any, TypeVar

from bank_adapters.protocol import (
    Account,
    ExtendAnswer,
    FreezeAnswer,
    ReleaseAnswer,
    ReturnAnswer,
    Statement,
    StatementAnswer,
    StatementLine,
)
from stopay.domain.orders import UnknownAnswer
from stopay.domain.text import is_control

A = TypeVar("A", bound=StatementAnswer | FreezeAnswer | ReleaseAnswer | ExtendAnswer | ReturnAnswer)

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# The longest text kept of each field of an answer; longer text is cut.
LIMITS = {
    "reason_code": 35,  # an ISO 20022 proprietary reason is at most 35 characters
    "bank_reference": 140,
    "detail": 1000,
    "txn_id": 128,
    "kind": 16,
    "bank_code": 35,
    "number": 64,
    "holder_name": 140,
}
_AMOUNTS = ("held_minor", "released_minor", "returned_minor", "balance_minor")


# What _escaped writes out: the control characters of domain.text.is_control, and lone surrogates.
_TO_ESCAPE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def printable(text: str, limit: int) -> str:
    """``text`` with every control character and lone surrogate escaped, cut to ``limit``: the
    same ``text`` when it has none and is short enough, as a bank's text nearly always is."""
    if len(text) <= limit and _TO_ESCAPE.search(text) is None:
        return text
    clean = "".join(_escaped(c) for c in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def _escaped(c: str) -> str:
    code = ord(c)
    if is_control(c):
        return f"\\x{code:02x}"
    if 0xD800 <= code < 0xE000:
        return f"\\u{code:04x}"
    return c


def _number(field: str, value: int | None, n: int = 0) -> None:
    """``field`` may name the line: ``{n}`` in it becomes ``n`` (formatted only for the error)."""
    if value is not None and not INT64_MIN <= value <= INT64_MAX:
        raise UnknownAnswer(f"{field.format(n=n)} {value} is out of range")


def _text(field: str, value: str) -> str:
    return printable(value if type(value) is str else str(value), LIMITS[field])


def _account(account: Account | None) -> Account | None:
    """The account as it can be recorded: the same object when nothing in it had to change."""
    if account is None:
        return None
    bank_code = _text("bank_code", account.bank_code)
    number = _text("number", account.number)
    holder_name = _text("holder_name", account.holder_name)
    if bank_code is account.bank_code and number is account.number and holder_name is account.holder_name:
        return account
    return Account(bank_code, number, holder_name)


def _line(line: StatementLine, n: int) -> StatementLine:
    """The line as it can be recorded: the same object when nothing in it had to change."""
    _number("statement.lines[{n}].seq", line.seq, n)
    _number("statement.lines[{n}].amount_minor", line.amount_minor, n)
    kind, txn_id, counterparty = _text("kind", line.kind), _text("txn_id", line.txn_id), _account(line.counterparty)
    if kind is line.kind and txn_id is line.txn_id and counterparty is line.counterparty:
        return line
    return replace(line, kind=kind, txn_id=txn_id, counterparty=counterparty)


def _statement(statement: Statement | None) -> Statement | None:
    if statement is None:
        return None
    _number("statement.opening_balance_minor", statement.opening_balance_minor)
    lines = tuple(_line(line, n) for n, line in enumerate(statement.lines))
    if all(new is old for new, old in zip(lines, statement.lines, strict=True)):
        return statement
    return Statement(statement.opening_balance_minor, lines)


def checked_answer(answer: A) -> A:
    """Any answer of the protocol (statement, freeze, release, extend, return) as it can be recorded.
    Raises UnknownAnswer for an amount out of range."""
    names = {f.name for f in fields(answer)}
    changes: dict[str, Any] = {}
    for name in _AMOUNTS:
        if name in names:
            _number(name, getattr(answer, name))
    for name in ("reason_code", "bank_reference"):
        changes[name] = _text(name, getattr(answer, name))
    extra = answer.extra
    if "detail" in extra:
        changes["extra"] = {**extra, "detail": _text("detail", str(extra["detail"]))}
    if isinstance(answer, StatementAnswer | FreezeAnswer):
        changes["statement"] = _statement(answer.statement)
    return replace(answer, **changes)

"""A statement kept as evidence (bank_answers.statement) is every field of the protocol's
dataclasses, as ``dataclasses.asdict`` would give them, with the exit as its code and times as
ISO 8601 text."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from bank_adapters.protocol import Account, ExitKind, Statement, StatementLine
from stopay.service.answers.translate import statement_json

AT = datetime(2025, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=8)))
STATEMENT = Statement(
    opening_balance_minor=20_000,
    lines=(
        StatementLine(1, AT, "credit", 58_000_000, "XUE-T1", Account("ICBC", "6222020200001111111", "薛某")),
        StatementLine(2, AT + timedelta(minutes=3), "debit", 2_000_000, "XUE-T2", exit=ExitKind.ATM),
        StatementLine(3, datetime(2025, 3, 1, 2, 5, tzinfo=UTC), "credit", 300, "OWN-1"),
    ),
)


def generic(value: Any) -> Any:
    """The conversion statement_json replaced: asdict, then enums as values and times as text."""
    if isinstance(value, dict):
        return {k: generic(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [generic(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return getattr(value, "value", value)


def test_the_statement_as_asdict_would_give_it() -> None:
    data = statement_json(STATEMENT)
    assert data == generic(asdict(STATEMENT))
    assert json.loads(json.dumps(data)) == data  # JSON-ready as it is
    assert data is not None
    assert data["lines"][1]["exit"] == "ATM" and data["lines"][1]["counterparty"] is None
    assert data["lines"][0]["at"] == "2025-03-01T10:00:00+08:00"


def test_every_field_of_the_dataclasses_is_kept() -> None:
    data = statement_json(STATEMENT)
    assert data is not None
    assert list(data) == [f.name for f in fields(Statement)]
    assert list(data["lines"][0]) == [f.name for f in fields(StatementLine)]
    assert list(data["lines"][0]["counterparty"]) == [f.name for f in fields(Account)]


def test_no_statement() -> None:
    assert statement_json(None) is None
    assert statement_json(Statement(0)) == {"opening_balance_minor": 0, "lines": []}

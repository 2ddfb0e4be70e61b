"""Typed rows passed to SQL as jsonb arrays.

A statement that takes many rows at once reads them with ``jsonb_to_recordset(:param::jsonb) AS
x(column type, ...)``. Each such parameter has a frozen dataclass whose fields are that column list,
in the same order (``tests/integration/test_order_sql.py`` holds every pair to it), and :func:`json_rows`
turns a list of them into what the jsonb codec sends: ids and times as text, enums as their values.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from dataclasses import fields
from datetime import datetime
from typing import Any

# Values sent as they are: most of a row's values. Exact types: a str enum is converted below.
_AS_IS = frozenset({str, int, float, bool, type(None), dict, list})


def _plain(value: Any) -> Any:
    if type(value) in _AS_IS:
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


_NAMES: dict[type, tuple[str, ...]] = {}


def _names(cls: type) -> tuple[str, ...]:
    """The row class's field names, read once."""
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


def json_row(row: Any) -> dict[str, Any]:
    """One dataclass row as a JSON-ready object, field by field (nested values are kept as they are)."""
    return {name: _plain(getattr(row, name)) for name in _names(type(row))}


def json_rows(rows: Iterable[Any]) -> list[dict[str, Any]]:
    return [json_row(r) for r in rows]

"""Typed rows passed to SQL as jsonb arrays, and the JSON of every json and jsonb value.

A statement that takes many rows at once reads them with ``jsonb_to_recordset(:param::jsonb) AS
x(column type, ...)``. Each such parameter has a frozen dataclass whose fields are that column list,
in the same order (``tests/integration/test_order_sql.py`` holds every pair to it), and :func:`json_rows`
hands a list of them to the jsonb codec, which writes each row as a JSON object field by field: ids
as text, times as ISO 8601 text, enums as their values.

The codec is orjson's (:func:`encode`, :func:`decode`, installed by store/database.py): it writes
dataclasses, UUIDs, times and enums itself, in C, where ``json`` needed every row turned into a dict
first and took seven times as long to write the same text.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import orjson


def _default(value: Any) -> Any:
    """What orjson does not write itself: a UUID of a subclass (asyncpg reads uuid columns as one)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def encode(value: Any) -> bytes:
    """``value`` as JSON text (UTF-8): what a json or jsonb parameter sends. A dict whose keys are not
    all text (numbers, say) is written with its keys as text, as ``json`` writes it."""
    try:
        return orjson.dumps(value, default=_default)
    except orjson.JSONEncodeError:
        return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS)


def decode(data: bytes | memoryview | str) -> Any:
    return orjson.loads(data)


def json_rows(rows: Iterable[Any]) -> list[Any]:
    """The dataclass rows of one jsonb array parameter, as the codec writes them (module docstring)."""
    return list(rows)

"""Loads the SQL that lives in ``stopay/store/sql/*.sql``; no query text is written in Python.

A query names its parameters (``:order_id``) and is called with keywords::

    q = query("retry_order")
    await conn.fetchrow(q.text, *q.args(order_id=..., new_order_id=..., actor=...))

Each file is read and turned into PostgreSQL's positional form (``$1``, ``$2``, ...) once, on first
use. A name used twice is one parameter. ``::`` casts, string literals, quoted identifiers and
comments are left alone. Calling with a missing or an unknown name raises :class:`TypeError` naming it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

# One alternation, scanned left to right: the things a parameter can never be inside come first.
_TOKENS = re.compile(
    r"""
      (?P<skip> '(?:[^']|'')*'          # a string literal
              | "(?:[^"]|"")*"          # a quoted identifier
              | --[^\n]*                # a line comment
              | /\*.*?\*/               # a block comment
              | \$(?P<tag>[A-Za-z_]*)\$.*?\$(?P=tag)\$   # a dollar-quoted string
              | \$\d+                   # a positional parameter: not allowed alongside names
              | ::                      # a cast
              )
    | :(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class Query:
    name: str
    text: str  # the query in positional form, as PostgreSQL takes it
    params: tuple[str, ...]  # the parameter names, in the order of $1, $2, ...

    def args(self, **values: Any) -> list[Any]:
        return self.bind(values)

    def bind(self, values: Mapping[str, Any]) -> list[Any]:
        missing = [p for p in self.params if p not in values]
        if missing:
            raise TypeError(f"query {self.name} needs :{', :'.join(missing)}")
        unknown = sorted(set(values) - set(self.params))
        if unknown:
            raise TypeError(f"query {self.name} takes no :{', :'.join(unknown)}")
        return [values[p] for p in self.params]


def compile_named(name: str, source: str) -> Query:
    params: list[str] = []
    positional = False

    def replace(m: re.Match[str]) -> str:
        nonlocal positional
        if m.group("name") is None:
            skipped = m.group("skip")
            positional = positional or (skipped[:1] == "$" and skipped[1:2].isdigit())
            return m.group(0)
        param = m.group("name")
        if param not in params:
            params.append(param)
        return f"${params.index(param) + 1}"

    text = _TOKENS.sub(replace, source)
    if positional and params:
        raise ValueError(f"query {name} mixes $n and :name parameters")
    return Query(name=name, text=text, params=tuple(params))


@cache
def query(name: str) -> Query:
    """The named-parameter query in ``sql/<name>.sql``."""
    return compile_named(name, source(name))


def source(name: str) -> str:
    """The text of ``sql/<name>.sql`` as written (with its ``:name`` parameters)."""
    return (files("stopay.store") / "sql" / f"{name}.sql").read_text(encoding="utf-8")

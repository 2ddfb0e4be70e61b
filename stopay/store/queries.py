"""Loads the SQL that lives in ``stopay/store/sql/*.sql``; no query text is written in Python."""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def sql(name: str) -> str:
    return (files("stopay.store") / "sql" / f"{name}.sql").read_text(encoding="utf-8")

"""No SQL run on a pool connection leaves session state behind, so the pool releases a connection
without asyncpg's reset query (stopay/store/database.py): no session setting, no session-level
advisory lock, no LISTEN, no cursor WITH HOLD, no prepared statement by name, no temporary table."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest

from stopay.store.queries import source

# Run on a connection of their own (store/migrate.py), never on the pool's.
OWN_CONNECTION = {"migration_lock", "migration_unlock"}

_SKIP = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/|\$([A-Za-z_]*)\$.*?\$\1\$", re.DOTALL)
# The first words of a statement that change the session.
_SESSION_STATEMENTS = re.compile(
    r"^\s*(SET\s+(?!LOCAL\b)|RESET\b|LISTEN\b|PREPARE\b|DISCARD\b|CREATE\s+(GLOBAL\s+|LOCAL\s+)?TEMP(ORARY)?\b"
    r"|DECLARE\b[^;]*\bWITH\s+HOLD\b)",
    re.IGNORECASE,
)
# Calls that change the session from anywhere in a statement: session-level advisory locks (the
# pg_advisory_xact_* ones end with the transaction), and set_config(..., false).
_SESSION_CALLS = re.compile(
    r"\bpg_(try_)?advisory_lock(_shared)?\s*\(|\bset_config\s*\([^)]*,\s*false\s*\)",
    re.IGNORECASE,
)


def _names() -> list[str]:
    folder = files("stopay.store") / "sql"
    return sorted(p.name.removesuffix(".sql") for p in folder.iterdir() if p.name.endswith(".sql"))


def session_changes(sql: str) -> list[str]:
    """The statements and calls of ``sql`` that leave state in the session."""
    code = _SKIP.sub(" ", sql)
    found = [m.group(0).strip() for m in _SESSION_CALLS.finditer(code)]
    for statement in code.split(";"):
        m = _SESSION_STATEMENTS.match(statement)
        if m:
            found.append(m.group(0).strip())
    return found


@pytest.mark.parametrize(
    "sql",
    [
        "SET statement_timeout = 0",
        "SELECT 1; set search_path to x",
        "RESET ALL",
        "LISTEN stopay_case",
        "SELECT pg_advisory_lock(1)",
        "SELECT pg_try_advisory_lock_shared(1)",
        "SELECT set_config('x.y', '1', false)",
        "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
        "CREATE TEMP TABLE t (a int)",
        "PREPARE p AS SELECT 1",
    ],
)
def test_the_check_finds_session_state(sql: str) -> None:
    assert session_changes(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE t SET a = 1",
        "WITH x AS (UPDATE t SET a = 1 RETURNING a) SELECT 1",
        "SET LOCAL statement_timeout = 0",
        "SELECT pg_advisory_xact_lock(1)",
        "SELECT set_config('x.y', '1', true)",
        "SELECT 'SET a = 1; LISTEN x' -- RESET ALL",
    ],
)
def test_the_check_lets_transaction_state_and_text_be(sql: str) -> None:
    assert session_changes(sql) == []


def test_no_query_a_pool_connection_runs_leaves_session_state() -> None:
    names = _names()
    assert "submit_entry" in names and OWN_CONNECTION <= set(names)
    found = {name: session_changes(source(name)) for name in names if name not in OWN_CONNECTION}
    assert {name: changes for name, changes in found.items() if changes} == {}

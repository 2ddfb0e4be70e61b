"""How the store classifies PostgreSQL's errors, raised for real by the server: only an unreachable
database or a conflict with another transaction may pass by trying again (StoreUnavailable, answered
UNAVAILABLE); a data exception is the input's fault (StoreInvalid, answered INVALID_ARGUMENT)."""

from __future__ import annotations

import pytest

from stopay.store.errors import StoreError, StoreInvalid, StoreUnavailable, database_errors

RAISE = "DO $$ BEGIN RAISE EXCEPTION 'raised for a test' USING ERRCODE = '{state}'; END $$"


@pytest.mark.parametrize(
    ("state", "kind"),
    [
        ("22P05", StoreInvalid),  # untranslatable character: a NUL
        ("22021", StoreInvalid),  # character not in repertoire
        ("22001", StoreInvalid),  # string too long
        ("22003", StoreInvalid),  # numeric value out of range
        ("22007", StoreInvalid),  # invalid datetime format
        ("22008", StoreInvalid),  # datetime field overflow
        ("40001", StoreUnavailable),  # serialization failure
        ("40P01", StoreUnavailable),  # deadlock detected
        ("57P01", StoreUnavailable),  # admin shutdown
        ("57P03", StoreUnavailable),  # cannot connect now
        ("08006", StoreUnavailable),  # connection failure
        ("53300", StoreUnavailable),  # too many connections
        ("23505", StoreError),  # unique violation: neither
        ("XX000", StoreError),  # internal error: neither
    ],
)
async def test_errors_are_classified_by_sqlstate(pool, state, kind) -> None:
    with pytest.raises(StoreError) as error, database_errors("a test"):
        await pool.execute(RAISE.format(state=state))
    assert type(error.value) is kind
    assert f"[{state}]" in str(error.value) or kind is StoreUnavailable


async def test_a_value_the_driver_cannot_encode_is_invalid_and_not_quoted(pool) -> None:
    with pytest.raises(StoreInvalid) as error, database_errors("a test"):
        await pool.fetchval("SELECT $1::bigint", 2**70)
    assert str(2**70) not in str(error.value) and "out of int64 range" in str(error.value)
    with pytest.raises(StoreInvalid), database_errors("a test"):
        await pool.fetchval("SELECT $1::text", "a\x00b")


async def test_a_closed_connection_is_unavailable_but_a_wrong_call_is_not(dsn) -> None:
    """asyncpg raises InterfaceError for both; only the closed connection may pass when tried again."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    with pytest.raises(StoreError) as wrong, database_errors("a test"):
        await conn.fetchval("SELECT $1::int")  # an argument missing: a defect, never "try again"
    assert type(wrong.value) is StoreError and "expects 1 argument" in str(wrong.value)
    await conn.close()
    with pytest.raises(StoreUnavailable), database_errors("a test"):
        await conn.fetchval("SELECT 1")

"""How the store classifies PostgreSQL's errors, raised for real by the server: only an unreachable
database or a conflict with another transaction may pass by trying again (StoreUnavailable, answered
UNAVAILABLE); a data exception is the input's fault (StoreInvalid, answered INVALID_ARGUMENT)."""

from __future__ import annotations

import asyncio

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
        ("25006", StoreUnavailable),  # read-only transaction: a primary demoted under the connection
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


async def test_a_write_on_a_server_gone_read_only_is_unavailable_and_answered_so(dsn) -> None:
    """A primary demoted under an open connection refuses writes as read-only (25006): trying again
    on a new connection reaches the new primary, so it is UNAVAILABLE, never INTERNAL."""
    import asyncpg
    import grpc

    from stopay.api.errors import store_status

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET default_transaction_read_only = on")  # what a demoted server says
        with pytest.raises(StoreError) as error, database_errors("a test"):
            await conn.execute("CREATE TEMPORARY TABLE t (x int)")
        assert isinstance(error.value.__cause__, asyncpg.ReadOnlySQLTransactionError)
        assert type(error.value) is StoreUnavailable and "read-only" in str(error.value)
        assert store_status(error.value, "retry")[0] is grpc.StatusCode.UNAVAILABLE
    finally:
        await conn.close()


async def test_a_connection_cut_mid_query_is_unavailable(dsn) -> None:
    """The server ends a session under a query (a restart, a failover): the driver's error, whatever
    its class, is UNAVAILABLE."""
    import asyncpg
    import grpc

    from stopay.api.errors import store_status

    conn, admin = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        pid = conn.get_server_pid()
        with pytest.raises(StoreError) as error, database_errors("a test"):
            query = asyncio.ensure_future(conn.fetchval("SELECT pg_sleep(30)"))
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
            await query
        assert type(error.value) is StoreUnavailable, error.value
        assert store_status(error.value, "retry")[0] is grpc.StatusCode.UNAVAILABLE
        with pytest.raises(StoreUnavailable), database_errors("a test"):
            await conn.fetchval("SELECT 1")  # the connection is gone: ConnectionDoesNotExistError
    finally:
        await admin.close()
        conn.terminate()

"""Opens the connection pool: creates the database if needed, migrates it, and hands out the pool."""

from __future__ import annotations

from typing import Any

import asyncpg

from stopay.store import rows
from stopay.store.errors import StoreError, StoreUnavailable
from stopay.store.migrate import check_current, migrate


def _jsonb(value: Any) -> bytes:
    return b"\x01" + rows.encode(value)  # jsonb's binary form: version 1, then the JSON text


def _from_jsonb(data: bytes) -> Any:
    return rows.decode(memoryview(data)[1:])


async def _init_connection(conn: asyncpg.Connection) -> None:
    # Binary: the JSON goes to the database and back as UTF-8 bytes, never as a Python str between.
    await conn.set_type_codec("jsonb", encoder=_jsonb, decoder=_from_jsonb, schema="pg_catalog", format="binary")
    await conn.set_type_codec("json", encoder=rows.encode, decoder=rows.decode, schema="pg_catalog", format="binary")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset: none beyond asyncpg's own, which always rolls back a transaction left open
    and drops the connection's listener callbacks before this runs.

    asyncpg's default reset sends ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` at
    every release, one more round trip per call. It would undo nothing here: nothing run on a pool
    connection leaves session state behind. No SQL file sets a setting for the session, takes a
    session-level advisory lock, LISTENs, declares a cursor WITH HOLD or creates a temporary table
    (tests/unit/test_session_state.py holds them to it); cursors live inside transactions; the
    migration lock and LISTEN each use a connection of their own, never the pool's.
    """


async def ensure_database(server_dsn: str, dsn: str, database: str) -> None:
    """Creates ``database`` through ``server_dsn`` unless ``dsn`` can already connect to it."""
    try:
        try:
            conn = await asyncpg.connect(dsn)
        except asyncpg.InvalidCatalogNameError:
            admin = await asyncpg.connect(server_dsn)
            try:
                await admin.execute(f'CREATE DATABASE "{database}"')
            except asyncpg.DuplicateDatabaseError:
                pass
            finally:
                await admin.close()
        else:
            await conn.close()
    except (OSError, asyncpg.InterfaceError) as exc:  # not reached, or the connection lost: try again
        raise StoreUnavailable(f"cannot create the database {database}: {exc}") from exc
    except asyncpg.PostgresError as exc:
        raise StoreError(f"cannot create the database {database}: {exc}") from exc


async def open_pool(dsn: str, *, min_size: int = 2, max_size: int = 10, run_migrations: bool = True) -> asyncpg.Pool:
    """A pool on ``dsn`` with JSON codecs, after migrating the schema to this code's version."""
    try:
        if run_migrations:
            conn = await asyncpg.connect(dsn)
            try:
                await migrate(conn)
            finally:
                await conn.close()
        pool = await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, init=_init_connection, reset=_keep_session
        )
    except (OSError, asyncpg.PostgresError) as exc:
        raise StoreError(f"cannot open the database: {exc}") from exc
    assert pool is not None
    return pool


async def check_schema(dsn: str) -> None:
    """Refuses (SchemaBehind, SchemaTooNew, MigrationDrift) a schema that is not this code's, without
    migrating it: for replicas that leave the migrations to `stopay migrate`."""
    try:
        conn = await asyncpg.connect(dsn)
        try:
            await check_current(conn)
        finally:
            await conn.close()
    except (OSError, asyncpg.PostgresError) as exc:
        raise StoreError(f"cannot open the database: {exc}") from exc

"""Opens the connection pool: creates the database if needed, migrates it, and hands out the pool."""

from __future__ import annotations

import json

import asyncpg

from stopay.store.errors import StoreError, StoreUnavailable
from stopay.store.migrate import migrate

# One encoder for every json and jsonb parameter, compact: no blanks for PostgreSQL to skip. Text
# stays ASCII-escaped: a lone surrogate, which no UTF-8 can carry, then reaches the database as an
# escape it refuses, as before, not as a failure to encode the query.
_encode = json.JSONEncoder(separators=(",", ":")).encode


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=_encode, decoder=json.loads, schema="pg_catalog")


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
        pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=_init_connection)
    except (OSError, asyncpg.PostgresError) as exc:
        raise StoreError(f"cannot open the database: {exc}") from exc
    assert pool is not None
    return pool

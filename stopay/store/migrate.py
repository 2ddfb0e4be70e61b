"""Applies the numbered migrations in ``stopay/store/migrations`` under an advisory lock.

Each file ``NNNN_name.sql`` runs once, in its own transaction, recorded in ``stopay_migrations``
with its SHA-256. Several replicas may start at once: the lock lets one migrate and the others wait.
A database that knows a migration this code lacks is refused (the code is older than the schema).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from importlib.resources import files

import asyncpg
import structlog

from stopay.store.errors import MigrationDrift, SchemaBehind, SchemaTooNew
from stopay.store.queries import query

log = structlog.get_logger(__name__)

# pg_advisory_lock key: the first 8 bytes of sha256("stopay.migrate"), as a signed bigint.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"stopay.migrate").digest()[:8], "big", signed=True)
_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations() -> list[Migration]:
    found = []
    for item in (files("stopay.store") / "migrations").iterdir():
        match = _NAME.fullmatch(item.name)
        if match:
            found.append(Migration(int(match[1]), match[2], item.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps: {[m.version for m in found]}")
    return found


@contextlib.asynccontextmanager
async def migration_lock(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """Holds the session lock that serializes schema changes (migrations, grants) across replicas."""
    lock, unlock = query("migration_lock"), query("migration_unlock")
    await conn.execute(lock.text, *lock.args(key=LOCK_KEY))
    try:
        yield
    finally:
        await conn.execute(unlock.text, *unlock.args(key=LOCK_KEY))


async def migrate(conn: asyncpg.Connection) -> list[int]:
    """Brings the schema up to date; returns the versions applied now. A role that may not change
    the schema (the service's application role, docs/security.md) passes when nothing is to be done,
    and gets SchemaBehind otherwise."""
    known = migrations()
    async with migration_lock(conn):
        if await conn.fetchval(query("migrations_table_exists").text) is None:
            await _as_owner(conn, "create the migrations table", conn.execute(query("migrations_table").text))
        rows = await conn.fetch(query("migrations_applied").text)
        applied = {r["version"]: r["checksum"] for r in rows}
        _refuse_foreign(known, applied)
        done = []
        for m in known:
            if m.version in applied:
                continue
            async with conn.transaction():
                await _as_owner(conn, f"apply migration {m.version:04d}_{m.name}", conn.execute(m.sql))
                q = query("migration_record")
                # A migration the role could run (one that finds nothing to do) is still not its to record.
                record = conn.execute(q.text, *q.args(version=m.version, name=m.name, checksum=m.checksum))
                await _as_owner(conn, f"record migration {m.version:04d}_{m.name}", record)
            log.info("migration.applied", version=m.version, name=m.name)
            done.append(m.version)
        return done


async def behind(conn: asyncpg.Connection) -> list[Migration]:
    """The migrations this code has that the database lacks, without applying any. Refuses, as
    migrate() does, a schema newer than the code and an applied migration that changed."""
    known = migrations()
    if await conn.fetchval(query("migrations_table_exists").text) is None:
        return known
    applied = {r["version"]: r["checksum"] for r in await conn.fetch(query("migrations_applied").text)}
    _refuse_foreign(known, applied)
    return [m for m in known if m.version not in applied]


def _refuse_foreign(known: list[Migration], applied: dict[int, str]) -> None:
    """A schema newer than this code (SchemaTooNew), or a migration applied from another file than
    this code's (MigrationDrift), is not this code's to run on."""
    newest = known[-1].version if known else 0
    if applied and max(applied) > newest:
        raise SchemaTooNew(
            f"database schema is at version {max(applied)}, this stopay knows up to {newest}:"
            " upgrade stopay before starting it against this database"
        )
    for m in known:
        if m.version in applied and applied[m.version] != m.checksum:
            raise MigrationDrift(f"migration {m.version:04d}_{m.name} differs from the one applied")


async def check_current(conn: asyncpg.Connection) -> None:
    """Raises SchemaBehind naming the first migration the database lacks (serve --no-migrate)."""
    missing = await behind(conn)
    if missing:
        first = missing[0]
        more = f" and {len(missing) - 1} after it" if len(missing) > 1 else ""
        raise SchemaBehind(
            f"the database schema is behind this stopay: migration {first.version:04d}_{first.name}{more}"
            " not applied; run `stopay migrate` first (serve --no-migrate does not migrate)"
        )


async def _as_owner(conn: asyncpg.Connection, what: str, step: Awaitable[object]) -> None:
    try:
        await step
    except asyncpg.InsufficientPrivilegeError as exc:
        raise SchemaBehind(
            f"the database schema is behind this stopay, and this role may not {what} ({exc}):"
            " migrate it as the schema's owner (serve --migrate-dsn, or stopay db grant)"
        ) from exc

"""Two roles: the owner migrates the schema; the service may run as an application role that gets
exactly the privileges listed in ``store/sql/grant_app_role.sql`` (docs/security.md)."""

from __future__ import annotations

import asyncpg

from stopay.store.errors import StoreError, StoreUnavailable, database_errors
from stopay.store.migrate import migrate, migration_lock
from stopay.store.queries import query


async def grant_app_role(conn: asyncpg.Connection, role: str) -> int:
    """Gives ``role`` the service's privileges, and only those (every other privilege it had in the
    schema is taken away), in one transaction under the migrations' lock. ``conn`` is the owner's.
    Returns the number of GRANT statements run."""
    with database_errors(f"could not grant the application role {role!r} its privileges"):
        async with migration_lock(conn), conn.transaction():
            q = query("grant_app_role")
            return int(await conn.fetchval(q.text, *q.args(role=role)))


async def role_of(dsn: str) -> str:
    """The role a DSN connects as."""
    with database_errors("could not connect with the service's DSN"):
        conn = await asyncpg.connect(dsn)
        try:
            return str(await conn.fetchval(query("current_role").text))
        finally:
            await conn.close()


async def migrate_as_owner(owner_dsn: str, app_dsn: str | None = None) -> str | None:
    """Migrates the schema through ``owner_dsn``; then, when ``app_dsn`` connects as another role,
    grants that role the service's privileges (they follow the new schema). Returns the role granted."""
    app = await role_of(app_dsn) if app_dsn else None
    with database_errors("could not migrate the database as its owner"):
        conn = await asyncpg.connect(owner_dsn)
    try:
        await migrate(conn)
        owner = str(await conn.fetchval(query("current_role").text))
        if app is None or app == owner:
            return None
        await grant_app_role(conn, app)
        return app
    except (OSError, asyncpg.InterfaceError) as exc:  # the connection lost: try again
        raise StoreUnavailable(f"could not migrate the database as its owner: {exc}") from exc
    except asyncpg.PostgresError as exc:  # SchemaBehind & co. pass as they are
        raise StoreError(f"could not migrate the database as its owner: {exc}") from exc
    finally:
        await conn.close()

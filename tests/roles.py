"""Application roles for tests: a login role (no password: the test servers trust loopback
connections) granted the service's privileges on one test database, as `stopay db grant` does."""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import asyncpg

from stopay.store.roles import grant_app_role

_roles = itertools.count()


def as_role(dsn: str, role: str) -> str:
    """``dsn`` connecting as ``role`` (without a password)."""
    parsed = urlparse(dsn)
    host = parsed.netloc.rpartition("@")[2]
    return parsed._replace(netloc=f"{role}@{host}").geturl()


@contextlib.asynccontextmanager
async def app_role(owner_dsn: str, *, grant: bool = True) -> AsyncIterator[tuple[str, str]]:
    """A new role that may log in to the database of ``owner_dsn`` (granted the service's privileges
    there unless ``grant`` is false); yields (role, its DSN); drops it afterwards."""
    role = f"stopay_app_{os.getpid()}_{next(_roles)}"
    owner = await asyncpg.connect(owner_dsn)
    try:
        database = await owner.fetchval("SELECT current_database()")
        await owner.execute(f'CREATE ROLE "{role}" LOGIN')
        await owner.execute(f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"')
        if grant:
            await grant_app_role(owner, role)
    finally:
        await owner.close()
    try:
        yield role, as_role(owner_dsn, role)
    finally:
        # A connection of its own (a test may have cut every other one): the role's sessions first
        # (an app stopped late), then what it was granted here, then the role.
        owner = await asyncpg.connect(owner_dsn)
        try:
            await owner.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role)
            await owner.execute(f'DROP OWNED BY "{role}"')
            await owner.execute(f'REVOKE ALL ON DATABASE "{database}" FROM "{role}"')
            await owner.execute(f'DROP ROLE "{role}"')
        finally:
            await owner.close()

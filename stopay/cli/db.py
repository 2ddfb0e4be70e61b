"""``stopay db grant``: migrates the schema as its owner, then gives the service's application role
exactly the privileges it needs (store/sql/grant_app_role.sql; docs/security.md)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import asyncpg

from stopay.cli.exits import database_failure, store_failure
from stopay.store.errors import StoreError


def add_parser(commands: Any, env: Any) -> None:
    db = commands.add_parser("db", help="database administration: the service's role")
    actions = db.add_subparsers(dest="action", required=True)
    grant = actions.add_parser("grant", help="migrate as the owner, then grant ROLE what serve needs, and only that")
    grant.add_argument("role", help="the role serve connects as (created beforehand: docs/security.md)")
    grant.add_argument(
        "--dsn",
        default=env("MIGRATE_DSN"),
        required=env("MIGRATE_DSN") is None,
        help="the schema owner's DSN (STOPAY_MIGRATE_DSN)",
    )


async def _grant(args: argparse.Namespace) -> int:
    from stopay.store.migrate import migrate
    from stopay.store.roles import grant_app_role

    try:
        conn = await asyncpg.connect(args.dsn)
    except (OSError, asyncpg.PostgresError) as exc:
        raise database_failure(StoreError(f"cannot open the database: {exc}"), args.dsn) from exc
    try:
        applied = await migrate(conn)
        statements = await grant_app_role(conn, args.role)
    except (StoreError, asyncpg.PostgresError) as exc:
        raise store_failure(exc) from exc
    finally:
        await conn.close()
    print(f"migrations applied now: {len(applied)}; role {args.role} granted ({statements} grants)", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_grant(args))

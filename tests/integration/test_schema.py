"""stopay/store/schema.sql is exactly the schema the migrations produce (stopay/store/schema.py)."""

from __future__ import annotations

import difflib
import re

import asyncpg

from stopay.store import schema


async def test_the_migrations_produce_schema_sql_exactly(server_dsn: str) -> None:
    produced = await schema.fresh(server_dsn)
    kept = schema.SNAPSHOT.read_text(encoding="utf-8")
    if produced != kept:
        diff = "".join(
            list(
                difflib.unified_diff(
                    kept.splitlines(keepends=True),
                    produced.splitlines(keepends=True),
                    "stopay/store/schema.sql",
                    "what the migrations produce",
                )
            )[:80]
        )
        raise AssertionError(
            f"stopay/store/schema.sql differs from the schema the migrations produce: regenerate it with"
            f" `{schema.REGENERATE}` (see docs/architecture.md) and read the change:\n{diff}"
        )


async def test_every_transitions_table_has_its_moves_in_the_snapshot(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        text = await schema.dump(conn)
    finally:
        await conn.close()
    tables = re.findall(r"^CREATE TABLE (\w+_transitions) \(", text, re.MULTILINE)
    filled = re.findall(r"^INSERT INTO (\w+) \(", text, re.MULTILINE)
    assert {"freeze_order_transitions", "hold_transitions"} <= set(tables)
    assert filled == tables, "a transitions table is missing from stopay/store/sql/schema_transitions.sql"


def test_the_snapshot_names_the_last_migration() -> None:
    from stopay.store.migrate import migrations

    last = migrations()[-1]
    first = schema.SNAPSHOT.read_text(encoding="utf-8").splitlines()[0]
    assert f"after migration {last.version:04d}_{last.name}:" in first, (
        f"stopay/store/schema.sql predates migration {last.version:04d}_{last.name}: regenerate it with"
        f" `{schema.REGENERATE}`"
    )

"""The typed rows of the store readers have exactly the columns their SQL files return, in order."""

from __future__ import annotations

from dataclasses import fields

import asyncpg
import pytest

from stopay.domain.case import CaseEvent
from stopay.store import audit, reports
from stopay.store.queries import query

ROWS = [
    ("account_orders", reports.AccountOrder),
    ("account_links", reports.AccountLink),
    ("export_events", reports.ExportedEvent),
    ("report", reports.Totals),
    ("report_groups", reports.GroupFigures),
    ("case_events", CaseEvent),
    ("audit_events", audit.StoredEvent),
]


@pytest.mark.parametrize(("name", "row"), ROWS, ids=[name for name, _ in ROWS])
async def test_a_row_class_has_its_querys_columns(dsn: str, name: str, row: type) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        statement = await conn.prepare(query(name).text)
        columns = [a.name for a in statement.get_attributes()]
    finally:
        await conn.close()
    assert columns == [f.name for f in fields(row)], f"store/sql/{name}.sql returns other columns than {row.__name__}"

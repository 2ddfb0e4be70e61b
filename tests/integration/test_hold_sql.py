"""The hold, return and approval SQL agrees with the domain (their row classes are checked with the
others in test_order_sql.py): the live states the sweeper's
search names are the domain's, and the search finds exactly the holds the domain would warn of."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from importlib.resources import files

import pytest

from stopay.domain.holds import HoldPolicy, HoldState, warn_due
from stopay.domain.orders import OrderKind
from stopay.store import holds as store
from stopay.store.holds import HoldEventRow, HoldOrderRow
from stopay.store.queries import query
from stopay.store.rows import encode, json_rows


def _sql(name: str) -> str:
    return (files("stopay.store") / "sql" / f"{name}.sql").read_text(encoding="utf-8")


def test_rows_go_to_the_database_as_json_objects() -> None:
    order = uuid.uuid4()
    rows = json_rows([HoldOrderRow(order, OrderKind.EXTEND, 5, {"change": "RENEW_STOP"}), HoldEventRow("x", None, {})])
    assert json.loads(encode(rows)) == [
        {"order_id": str(order), "kind": "extend", "requested_minor": 5, "params": {"change": "RENEW_STOP"}},
        {"kind": "x", "order_id": None, "detail": {}},
    ]


def test_the_sweeper_s_search_names_the_domain_s_live_states() -> None:
    named = re.findall(r"state IN \(([^)]*)\)", _sql("holds_due"))
    assert named
    for states in named:
        assert {s.strip().strip("'") for s in states.split(",")} == {s.value for s in HoldState if s.live}


def test_hold_write_takes_named_parameters() -> None:
    assert "$" not in _sql("hold_write").split("WITH", 1)[1]
    assert len(query("hold_write").params) == 18


async def test_the_sweeper_s_search_finds_what_the_domain_would_warn_of(pool) -> None:
    from tests.integration.test_store import submit

    _, case_id = await submit(pool, ("ICBC", "6222020200009999999", 5000))
    now = await pool.fetchval("SELECT stopay_now()")
    hours, days = timedelta(hours=1), timedelta(days=1)
    holds = {  # account -> (state, expires in, warned)
        "W-STOP-IN": (HoldState.STOPPED, 5 * hours, False),
        "W-STOP-OUT": (HoldState.STOPPED, 9 * hours, False),
        "W-STOP-WARNED": (HoldState.STOPPED, 5 * hours, True),
        "W-STOP-DAYS": (HoldState.STOPPED, 2 * days, False),  # in a formal freeze's window, not a stop's
        "W-FROZEN-IN": (HoldState.FROZEN, 2 * days, False),
        "W-FROZEN-OUT": (HoldState.FROZEN, 4 * days, False),
        "W-EXPIRED": (HoldState.FROZEN, -hours, False),
    }
    for number, (state, expires_in, warned) in holds.items():
        await pool.execute(
            "INSERT INTO holds (case_id, bank_code, account_number, state, max_stops, expires_at, warned_at, document)"
            " VALUES ($1, 'ICBC', $2, $3, 2, $4, $5, $6)",
            case_id,
            number,
            state.value,
            now + expires_in,
            now if warned else None,
            {"amount_minor": 1} if state is HoldState.FROZEN else None,
        )
    policy = HoldPolicy(stop_warn_hours=7, freeze_warn_days=3)
    due = await store.due(pool, 100, policy.warnings())
    mine = [(action, number) for action, case, _, number in due if case == case_id]  # the database is shared
    warned = {number for action, number in mine if action == "warn"}
    expected = {
        number
        for number, (state, expires_in, was) in holds.items()
        if warn_due(state, now + expires_in, now if was else None, now, policy)
    }
    assert warned == expected == {"W-STOP-IN", "W-FROZEN-IN"}
    assert {number for action, number in mine if action == "lapse"} == {"W-EXPIRED"}


@pytest.mark.parametrize("name", ["hold_write", "return_write", "approval_request", "holds_due", "account_holds"])
def test_the_hold_files_compile(name: str) -> None:
    q = query(name)
    assert q.params and all(f"${i + 1}" in q.text for i in range(len(q.params)))

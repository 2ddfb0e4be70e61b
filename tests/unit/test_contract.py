"""The gRPC contract's enums and the one table each that maps them to the names the domain and the
store use: every value has a name, every name a value, and an unknown one fails loudly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bank_adapters.protocol import ExitKind
from stopay.api import convert
from stopay.domain.attribution import RULES
from stopay.domain.holds import HoldState
from stopay.domain.orders import OrderStatus
from stopay.domain.trail import BACK_WITH_VICTIM
from stopay.v1 import holds_pb2, station_pb2

ROOT = Path(__file__).resolve().parents[2]
TABLES = [value for value in vars(convert).values() if isinstance(value, convert.EnumTable)]


def test_every_table_maps_both_ways() -> None:
    assert len(TABLES) >= 11
    for table in TABLES:
        for name in table.names():
            assert table.name(table.number(name)) == name


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.what)
def test_an_unknown_name_or_number_fails_loudly(table: convert.EnumTable) -> None:
    with pytest.raises(ValueError, match="unknown"):
        table.number("no such thing")
    with pytest.raises(ValueError, match="no .* numbered 4711"):
        table.name(4711)


def test_an_unspecified_state_is_never_a_name() -> None:
    for table in (convert.HOLD_STATE, convert.ORDER_STATUS, convert.EVENT_KIND, convert.ATTRIBUTION_RULE):
        with pytest.raises(ValueError):
            table.name(0)


def test_every_domain_value_has_its_enum_value() -> None:
    assert {convert.ORDER_STATUS.name(convert.ORDER_STATUS.number(s)) for s in OrderStatus} == {
        s.value for s in OrderStatus
    }
    assert convert.HOLD_STATE.number(HoldState.FROZEN) == holds_pb2.HOLD_STATE_FROZEN
    assert {convert.HOLD_STATE.number(s) for s in HoldState} == set(holds_pb2.HoldState.values()) - {0}
    assert set(convert.ATTRIBUTION_RULE.names()) == set(RULES)
    assert set(convert.EXIT_KIND.names()) == {k.value for k in ExitKind} | {"UNKNOWN", BACK_WITH_VICTIM}
    # Every order status is also the kind of the event an order moving to it writes.
    for status in OrderStatus:
        assert convert.EVENT_KIND.number(f"order.{status.value}")


def test_every_event_kind_the_code_writes_has_its_enum_value() -> None:
    """The kinds written as literals, in SQL and in Python, and the ones built from a status: a new
    one fails here, not in a client's stream."""
    kind = r"(?:case|order|hold|return|funds|transfer|exit|back_with_victim|approval|release|follow|objection)\.[a-z_]+"
    written: set[str] = set()
    for path in (ROOT / "stopay" / "store" / "sql").glob("*.sql"):
        text = path.read_text(encoding="utf-8")
        if "INSERT INTO case_events" in text:
            written |= set(re.findall(rf"'({kind})'", text))
    for path in [
        *(ROOT / "stopay" / "service" / "answers").glob("*.py"),
        *(ROOT / "stopay" / "service" / "holds").glob("*.py"),
    ]:
        text = path.read_text(encoding="utf-8")
        written |= set(re.findall(rf'"kind": "({kind})"', text))
        written |= set(re.findall(rf'_event\(\s*\w+,\s*"({kind})"', text))
        # An event row: CaseEventRow(case_id, kind, detail), HoldEventRow(kind, order_id, detail).
        written |= set(re.findall(rf'CaseEventRow\(\s*[^,()]*(?:\([^()]*\))?,\s*"({kind})"', text))
        written |= set(re.findall(rf'HoldEventRow\(\s*"({kind})"', text))
    assert {"case.accepted", "order.queued", "hold.stopped", "approval.granted"} <= written
    # Built from a value: an order settling, a hold ending, an exit found or withdrawn, a hold step.
    written |= {f"order.{status.value}" for status in OrderStatus}
    written |= {f"hold.{state.value}" for state in (HoldState.RELEASED, HoldState.LAPSED)}
    written |= {f"{end}.{what}" for end in ("exit", "back_with_victim") for what in ("recorded", "withdrawn")}
    written |= {"hold.renewed", "hold.formalized", "hold.freeze_renewed"}
    assert sorted(k for k in written if k not in convert.EVENT_KIND.names()) == []
    assert convert.EVENT_KIND.number("hold.lapsed") == station_pb2.EVENT_KIND_HOLD_LAPSED

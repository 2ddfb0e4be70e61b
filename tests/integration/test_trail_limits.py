"""Bounds on the orders a case opens: at most ``max_fanout`` next-level orders from one statement and
``max_orders`` freeze orders in a case. The transfers beyond are not followed, never silently: the
case records a ``follow.limited`` event, their money stays unresolved, and
reported = held + exited + returned + back with the victim + unresolved still holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from stopay.domain.entry import Party
from stopay.domain.trail import Known, Limits, Line, step
from stopay.v1 import station_pb2
from tests.entries import scenario_requests
from tests.handmade import acct, check, world_data

WIDE = 40  # debits out of the level-1 account
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def amount(i: int) -> int:
    """The i-th debit: all different, so the largest ones are known (the 40th is the largest)."""
    return 20000 + 100 * i


def fan_out_world() -> dict:
    """V pays A all of the money A then pays on to B0..B39, one debit each."""
    total = sum(amount(i) for i in range(WIDE))
    moves: list[tuple[str | None, str, int, str]] = [("V", "A", total, "T")]
    moves += [("A", f"B{i}", amount(i), f"D{i}") for i in range(WIDE)]
    opening = {"V": total, "A": 0} | {f"B{i}": 0 for i in range(WIDE)}
    return world_data(opening, moves, [check("wide", "libr", [["T"]], {}, min_amount=10000)])


def test_step_follows_the_largest_transfers_up_to_the_fan_out_limit() -> None:
    total = sum(30000 + i for i in range(10))
    lines = [Line(0, T0, "credit", total, "T")]
    lines += [
        Line(i + 1, T0 + timedelta(seconds=i + 1), "debit", 30000 + i, f"D{i}", counterparty=Party("BK", f"N{i}", "x"))
        for i in range(10)
    ]
    known = Known(labelled={"T": (("L1", total),)})
    result = step(known, 0, tuple(lines), Limits("libr", 5, 10000, max_fanout=3))
    assert [o.txn_id for o in result.onward] == ["D7", "D8", "D9"]
    assert sorted(o.txn_id for o in result.unfollowed) == [f"D{i}" for i in range(7)]
    assert result.limit == "fanout"
    assert result.unfollowed_minor == sum(30000 + i for i in range(7))
    # Not sent on: a later statement may still follow them.
    assert set(result.sent) == {"D7", "D8", "D9"}

    by_room = step(known, 0, tuple(lines), Limits("libr", 5, 10000, max_fanout=3), room=2)
    assert ([o.txn_id for o in by_room.onward], by_room.limit) == (["D8", "D9"], "orders")
    full = step(known, 0, tuple(lines), Limits("libr", 5, 10000, max_fanout=3), room=0)
    assert (full.onward, len(full.unfollowed), full.limit) == ((), 10, "orders")
    # Within both limits nothing is left out.
    free = step(known, 0, tuple(lines), Limits("libr", 5, 10000), room=10)
    assert (len(free.onward), free.unfollowed, free.limit) == (10, (), "")


def test_transfers_followed_before_go_first() -> None:
    lines = [
        Line(0, T0, "credit", 100000, "T"),
        Line(1, T0 + timedelta(seconds=1), "debit", 20000, "SMALL", counterparty=Party("BK", "S", "x")),
        Line(2, T0 + timedelta(seconds=2), "debit", 80000, "BIG", counterparty=Party("BK", "G", "x")),
    ]
    # SMALL was followed before with less of the victim's money: its receiver must learn the change.
    known = Known(labelled={"T": (("L1", 100000),)}, sent={"SMALL": (("L2", 10000), ("own", 10000))})
    result = step(known, 0, tuple(lines), Limits("libr", 5, 10000, max_fanout=1))
    assert [o.txn_id for o in result.onward] == ["SMALL"]
    assert [o.txn_id for o in result.unfollowed] == ["BIG"]
    assert result.sent == {"SMALL": (("L2", 20000),)}


def test_the_limits_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="max_orders"):
        Limits(max_orders=0)
    with pytest.raises(ValueError, match="max_fanout"):
        Limits(max_fanout=0)


async def _trace(make_app, channel_to, tmp_path: Path, limits: Limits) -> tuple[station_pb2.Case, list, object]:
    path = tmp_path / "wide.json"
    path.write_text(json.dumps(fan_out_world()), encoding="utf-8")
    app = await make_app(path, limits=limits)
    stub = channel_to(app)
    (request,) = scenario_requests(app, path, 0)
    reply = await stub.SubmitEntry(request)
    case, events = None, []
    async for update in stub.WatchCase(station_pb2.WatchCaseRequest(case_id=reply.case_id), timeout=60):
        case = update.case
        events.extend(update.events)
    assert case is not None and case.settled
    return case, events, app.adapters["BK"].world


def _accounted(case: station_pb2.Case) -> None:
    assert case.reported_minor == (
        case.held_minor + case.exited_minor + case.returned_minor + case.back_with_victim_minor + case.unresolved_minor
    )


async def test_a_wide_statement_opens_at_most_max_fanout_orders(make_app, channel_to, tmp_path: Path) -> None:
    case, events, banks = await _trace(make_app, channel_to, tmp_path, Limits("libr", 5, 10000, max_fanout=15))
    freezes = [o for o in case.orders if o.kind == station_pb2.ORDER_KIND_FREEZE]
    assert len(freezes) == 1 + 15
    followed = {o.account.number for o in freezes if o.level == 2}
    assert followed == {acct(f"B{i}").split(":")[1] for i in range(WIDE - 15, WIDE)}  # the largest 15
    left_out = sum(amount(i) for i in range(WIDE - 15))
    assert banks.holds() == {acct(f"B{i}"): amount(i) for i in range(WIDE - 15, WIDE)}
    assert case.unresolved_minor == left_out
    _accounted(case)
    (limited,) = [e for e in events if e.kind == station_pb2.EVENT_KIND_FOLLOW_LIMITED]
    assert limited.summary.startswith(f"fan-out limit reached: {WIDE - 15} debits not followed, ")
    assert f"({left_out} fen) unresolved" in limited.summary


async def test_a_case_opens_at_most_max_orders(make_app, channel_to, tmp_path: Path) -> None:
    case, events, banks = await _trace(
        make_app, channel_to, tmp_path, Limits("libr", 5, 10000, max_orders=6, max_fanout=200)
    )
    freezes = [o for o in case.orders if o.kind == station_pb2.ORDER_KIND_FREEZE]
    assert len(freezes) == 6  # the level-1 order and the 5 largest transfers out of it
    assert len(banks.holds()) == 5
    assert case.unresolved_minor == sum(amount(i) for i in range(WIDE - 5))
    _accounted(case)
    (limited,) = [e for e in events if e.kind == station_pb2.EVENT_KIND_FOLLOW_LIMITED]
    assert limited.summary.startswith(f"order limit of the case reached (6 orders): {WIDE - 5} debits not followed")


async def test_within_the_limits_every_transfer_is_followed(make_app, channel_to, tmp_path: Path) -> None:
    case, events, banks = await _trace(make_app, channel_to, tmp_path, Limits("libr", 5, 10000))
    assert len(banks.holds()) == WIDE and case.unresolved_minor == 0
    assert not [e for e in events if e.kind == station_pb2.EVENT_KIND_FOLLOW_LIMITED]
    _accounted(case)

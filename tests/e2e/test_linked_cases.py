"""The same transfer reported again (another entry, another station) is one trail: the later case
records it and is linked to the first, which alone traces and freezes the money."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
from google.protobuf import json_format

from stopay.api.validation import entry_from_request
from stopay.domain.clock import SYSTEM_CLOCK
from stopay.domain.orders import OrderKind
from stopay.domain.trail import Limits
from stopay.store import audit, cases, entries
from stopay.v1 import common_pb2, station_pb2
from tests.entries import confirm, simple_request

PAYER = ("CQCB", "6229100000000001")


def reported_again(
    *payees: tuple[str, str, int, str], station: str = "CQ-JIANGBEI-02"
) -> station_pb2.SubmitEntryRequest:
    """An entry of ``(bank, number, amount, txn_id)`` transfers from the payer of simple_request."""
    request = simple_request(*((bank, number, amount) for bank, number, amount, _ in payees))
    request.station_id = station
    for transfer, (_, _, _, txn_id) in zip(request.transfers, payees, strict=True):
        transfer.txn_id = txn_id
    return confirm(request)


async def stopay(*args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "stopay.cli.main", *args], capture_output=True, text=True, timeout=120
    )


async def submit(pool: asyncpg.Pool, request: station_pb2.SubmitEntryRequest) -> entries.Submitted:
    """Stores ``request`` as SubmitEntry does, confirmed by the victim as it is now."""
    return await entries.submit(pool, entry_from_request(confirm(request), SYSTEM_CLOCK.now()), Limits(), "test")


async def test_a_transfer_reported_again_is_linked_not_traced_again(pool) -> None:
    first = await submit(
        pool, simple_request(("ICBC", "6222000000000001", 500_000), ("ABC", "6228000000000002", 300_000))
    )
    assert first.links == ()
    # The same transfer T0 (same payer, payee and txn_id) and a new one to the same account.
    second = await submit(
        pool, reported_again(("ICBC", "6222000000000001", 500_000, "T0"), ("ICBC", "6222000000000001", 70_000, "T9"))
    )
    assert not second.duplicate
    [link] = second.links
    assert (link.case_id, link.txn_id, link.traced_there) == (first.case_id, "T0", True)
    assert (link.payee.bank_code, link.payee.number, link.amount_minor) == ("ICBC", "6222000000000001", 500_000)
    assert link.station_id == "CQ-YUZHONG-01"

    view = await cases.get_case(pool, second.case_id)
    assert view is not None
    # One level-1 order, and its stop, for the new transfer only: the money of T0 is traced by the first case.
    assert sorted(o.kind for o in view.orders) == [OrderKind.FREEZE, OrderKind.STOP]
    for order in view.orders:
        assert (order.bank_code, order.requested_minor, order.incoming_txn_ids) == ("ICBC", 70_000, ("T9",))
    assert view.reported_minor == 570_000 and view.linked_minor == 500_000
    assert view.unresolved_minor == 70_000
    assert view.levels()[0].traced_minor == 70_000
    assert view.reported_minor == (
        view.held_minor + view.exited_minor + view.returned_minor + view.linked_minor + view.unresolved_minor
    )
    assert [(x.case_id, x.txn_id, x.traced_there) for x in view.links] == [(first.case_id, "T0", True)]

    # The first case is unchanged but for the link: it shows the second.
    earlier = await cases.get_case(pool, first.case_id)
    assert earlier is not None and earlier.linked_minor == 0 and len(earlier.orders) == 4  # 2 orders, 2 stops
    assert [(x.case_id, x.txn_id, x.traced_there, x.station_id) for x in earlier.links] == [
        (second.case_id, "T0", False, "CQ-JIANGBEI-02")
    ]

    # Both hash chains say so, and still verify.
    second_events = [e.kind for e in await cases.events_since(pool, second.case_id, 0)]
    assert second_events == ["case.accepted", "order.queued", "order.queued", "transfer.linked"]  # the stop's
    first_events = await cases.events_since(pool, first.case_id, 0)
    assert first_events[-1].kind == "transfer.reported_again"
    assert first_events[-1].detail["linked_case_id"] == str(second.case_id)
    assert (await audit.verify(pool)).ok


async def test_an_entry_of_linked_transfers_only_opens_no_order_and_is_settled(pool) -> None:
    first = await submit(pool, simple_request(("ICBC", "6222000000000001", 500_000)))
    second = await submit(pool, reported_again(("ICBC", "6222000000000001", 500_000, "T0")))
    assert [x.case_id for x in second.links] == [first.case_id]
    view = await cases.get_case(pool, second.case_id)
    assert view is not None and view.orders == () and view.settled
    assert (view.reported_minor, view.linked_minor, view.unresolved_minor) == (500_000, 500_000, 0)


async def test_another_payer_or_payee_is_another_transfer(pool) -> None:
    await submit(pool, simple_request(("ICBC", "6222000000000001", 500_000)))
    # Same txn_id, other payee: transaction ids are only unique within a bank's accounts.
    other_payee = await submit(pool, reported_again(("ICBC", "6222000000000009", 500_000, "T0")))
    other_payer = simple_request(("ICBC", "6222000000000001", 500_000))
    other_payer.transfers[0].payer.CopyFrom(
        common_pb2.AccountRef(bank_code="CQCB", number="6229100000000077", holder_name="陈某")
    )
    assert (await submit(pool, other_payer)).links == ()
    assert other_payee.links == ()


async def test_a_resubmitted_entry_is_a_duplicate_not_a_link(pool) -> None:
    original = simple_request(("ICBC", "6222000000000001", 500_000))
    first = await submit(pool, original)
    again = await submit(pool, original)
    assert again.duplicate and again.case_id == first.case_id and again.links == ()

    request = reported_again(("ICBC", "6222000000000001", 500_000, "T0"))
    second = await submit(pool, request)
    repeat = await submit(pool, request)
    assert repeat.duplicate and repeat.case_id == second.case_id
    # The same answer as the first time: linked to the first case.
    assert [(x.case_id, x.traced_there) for x in repeat.links] == [(first.case_id, True)]


async def test_stations_racing_with_the_same_transfer_give_one_trail(pool) -> None:
    payee = ("BOC", "6216600000000003", 880_000)
    for _ in range(5):
        txn = uuid.uuid4().hex[:12]
        requests = [reported_again((*payee, txn), station=f"ST-{n}") for n in range(6)]
        results = await asyncio.gather(*(submit(pool, r) for r in requests))
        tracing = [r for r in results if not r.links]
        assert len(tracing) == 1, [len(r.links) for r in results]
        owner = tracing[0].case_id
        assert all([x.case_id for x in r.links] == [owner] for r in results if r is not tracing[0])
        orders = await pool.fetch(
            "SELECT o.kind, count(*) FROM freeze_orders o JOIN entry_transfers t ON t.case_id = o.case_id"
            " WHERE t.txn_id = $1 GROUP BY o.kind ORDER BY o.kind",
            txn,
        )
        assert [tuple(r) for r in orders] == [("freeze", 1), ("stop", 1)]  # one order, and its stop


async def test_stations_are_told_and_the_clients_show_the_link(make_app, channel_to, tmp_path: Path) -> None:
    app = await make_app()
    stub = channel_to(app)
    server = f"127.0.0.1:{app.port}"
    first = await stub.SubmitEntry(simple_request(("ICBC", "6222000000000001", 500_000)))
    assert list(first.linked_cases) == []

    entry = tmp_path / "again.json"
    entry.write_text(
        json_format.MessageToJson(
            reported_again(("ICBC", "6222000000000001", 500_000, "T0"), ("ABC", "6228000000000002", 20_000, "T7"))
        )
    )
    submitted = await stopay("entry", "submit", str(entry), "--server", server)
    assert submitted.returncode == 0, submitted.stderr
    assert f"reported first in case {first.case_id}" in submitted.stdout
    assert "transfer T0 to ICBC:6222000000000001 (¥5,000.00)" in submitted.stdout

    # The station's answer says so, also to a program, and a retry gives the same answer.
    reply = await stub.SubmitEntry(json_format.Parse(entry.read_text(), station_pb2.SubmitEntryRequest()))
    assert reply.duplicate
    [link] = reply.linked_cases
    assert (link.case_id, link.txn_id, link.traced_there, link.amount_minor) == (first.case_id, "T0", True, 500_000)
    assert (link.payee.bank_code, link.payee.number, link.station_id) == ("ICBC", "6222000000000001", "CQ-YUZHONG-01")
    second_id = reply.case_id

    second = await stub.GetCase(station_pb2.GetCaseRequest(case_id=second_id))
    assert [(x.case_id, x.traced_there) for x in second.linked_cases] == [(first.case_id, True)]
    assert second.unresolved_minor <= 20_000 and second.reported_minor == 520_000
    assert [lv.traced_minor for lv in second.levels][:1] == [20_000]
    earlier = await stub.GetCase(station_pb2.GetCaseRequest(case_id=first.case_id))
    assert [(x.case_id, x.traced_there, x.station_id) for x in earlier.linked_cases] == [
        (second_id, False, "CQ-JIANGBEI-02")
    ]

    shown = await stopay("case", "show", first.case_id, "--server", server)
    assert shown.returncode == 0, shown.stderr
    assert f"reported again in case {second_id} (station CQ-JIANGBEI-02): linked, traced here" in shown.stdout

    # Both cases show up in the payee account's history.
    account = await stopay("audit", "account", "ICBC:6222000000000001", "--server", server)
    assert account.returncode == 0, account.stderr
    assert first.case_id in account.stdout and second_id in account.stdout, account.stdout
    # For programs too: the later case has no order there, so the history names it as a link.
    as_json = await stopay("audit", "account", "ICBC:6222000000000001", "--json", "--server", server)
    assert as_json.returncode == 0, as_json.stderr
    history = json.loads(as_json.stdout)
    assert {o["case_id"] for o in history["orders"]} == {first.case_id}
    assert [(x["case_id"], x["linked_case_id"], x["station_id"], x["amount_minor"]) for x in history["links"]] == [
        (second_id, first.case_id, "CQ-JIANGBEI-02", "500000")
    ]


async def test_entries_sharing_transfers_in_any_order_wait_for_each_other_not_deadlock(pool) -> None:
    # Each round: two earlier cases own one transfer each; then entries naming both transfers, in
    # opposite orders, race. The owners' rows and chain heads are taken in one order by everyone.
    for _ in range(4):
        a, b = uuid.uuid4().hex[:10], uuid.uuid4().hex[:10]
        x, y = ("ICBC", "6222000000000011", 100_000, a), ("ABC", "6228000000000022", 200_000, b)
        owners = {
            (await submit(pool, reported_again(x, station="ST-A"))).case_id,
            (await submit(pool, reported_again(y, station="ST-B"))).case_id,
        }
        racing = [reported_again(*pair, station=f"ST-{n}") for n, pair in enumerate([(x, y), (y, x)] * 2)]
        results = await asyncio.gather(*(submit(pool, r) for r in racing))
        for result in results:
            assert {link.case_id for link in result.links} == owners
        for owner in owners:
            later = await cases.events_since(pool, owner, 0)
            assert sum(e.kind == "transfer.reported_again" for e in later) == len(racing)
    assert (await audit.verify(pool)).ok

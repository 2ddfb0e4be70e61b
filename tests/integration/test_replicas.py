"""Three replicas on one database share the work through leases: every order is delivered, none is
sent twice at the same time, and each bank request goes out once."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

from stopay.dispatch.dispatcher import DispatchSettings
from stopay.v1 import station_pb2
from tests.conftest import eventually
from tests.entries import simple_request
from tests.fakebank import FakeBank

ENTRIES = 250
PAYEES = 4  # 1,000 freeze orders, each with its stop beside it


class WatchfulBank(FakeBank):
    """Answers after a short random delay and notices any key sent again while still in flight."""

    def __init__(self, codes: set[str]) -> None:
        super().__init__(codes)
        self.in_flight: set[str] = set()
        self.overlaps: list[str] = []
        self.sent: Counter[str] = Counter()

    async def _enter(self, key: str) -> None:
        if key in self.in_flight:
            self.overlaps.append(key)
        self.in_flight.add(key)
        self.sent[key] += 1
        await asyncio.sleep(random.uniform(0, 0.01))

    async def statement(self, request):  # type: ignore[no-untyped-def]
        await self._enter(request.idempotency_key)
        try:
            return await super().statement(request)
        finally:
            self.in_flight.discard(request.idempotency_key)

    async def freeze(self, request):  # type: ignore[no-untyped-def]
        await self._enter(request.idempotency_key)
        try:
            return await super().freeze(request)
        finally:
            self.in_flight.discard(request.idempotency_key)


async def test_three_replicas_deliver_a_thousand_orders_once_each(make_app, channel_to, pool) -> None:
    banks = [f"B{n}K" for n in range(PAYEES)]
    bank = WatchfulBank(set(banks))
    settings = DispatchSettings(poll_s=0.2, batch_size=32, retry_base_s=0.05, retry_cap_s=0.5)
    replicas = [await make_app(bank_adapters={b: bank for b in banks}, dispatch=settings) for _ in range(3)]
    stubs = [channel_to(app) for app in replicas]

    async def submit(n: int) -> str:
        request = simple_request(*[(b, f"62220202{n:04d}{i:04d}", 1000 + n) for i, b in enumerate(banks)])
        return (await stubs[n % 3].SubmitEntry(request)).case_id

    case_ids = []
    for start in range(0, ENTRIES, 50):
        case_ids += await asyncio.gather(*(submit(n) for n in range(start, min(start + 50, ENTRIES))))

    # Each stop holds its money at once; its freeze order's statement then finds it asked for.
    async def all_settled() -> bool:
        return (
            await pool.fetchval(
                "SELECT count(*) FROM freeze_orders"
                " WHERE status <> CASE kind WHEN 'stop' THEN 'held' WHEN 'freeze' THEN 'moved_on' END"
            )
            == 0
        )

    await eventually(all_settled, timeout_s=120, every_s=0.2)
    kinds = await pool.fetch("SELECT kind, count(*) FROM freeze_orders GROUP BY kind ORDER BY kind")
    assert [tuple(r) for r in kinds] == [("freeze", ENTRIES * PAYEES), ("stop", ENTRIES * PAYEES)]
    assert bank.overlaps == []
    # Each bank request went out once: the statement of every freeze order and the freeze of every
    # stop, under the keys the orders have; no freeze order sent a freeze of its own.
    assert set(bank.sent.values()) == {1}
    keys = await pool.fetch("SELECT kind, idempotency_key FROM freeze_orders")
    statements = {r["idempotency_key"] + "/statement" for r in keys if r["kind"] == "freeze"}
    stops = {r["idempotency_key"] for r in keys if r["kind"] == "stop"}
    assert len(statements) == len(stops) == ENTRIES * PAYEES
    assert set(bank.sent) == statements | stops
    assert {type(r).__name__ for r in bank.requests} == {"StatementRequest", "FreezeRequest"}
    assert sum(type(r).__name__ == "FreezeRequest" for r in bank.requests) == ENTRIES * PAYEES
    held = await pool.fetchval("SELECT sum(held_minor) FROM freeze_orders WHERE kind = 'stop'")
    assert held == sum((1000 + n) * PAYEES for n in range(ENTRIES))
    assert await pool.fetchval("SELECT sum(held_minor) FROM freeze_orders WHERE kind = 'freeze'") == 0
    # Every replica did some of the work (the event log names the replica that recorded each hold).
    actors = await pool.fetch("SELECT actor, count(*) FROM case_events WHERE kind = 'order.held' GROUP BY actor")
    assert len(actors) == 3 and all(r["actor"].startswith("dispatcher@") and r["count"] > 0 for r in actors)
    case = await stubs[0].GetCase(station_pb2.GetCaseRequest(case_id=case_ids[-1]))
    assert case.settled and case.held_minor == (1000 + ENTRIES - 1) * PAYEES

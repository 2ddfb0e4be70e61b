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
PAYEES = 4  # 1,000 orders


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

    async def all_settled() -> bool:
        return await pool.fetchval("SELECT count(*) FROM freeze_orders WHERE status <> 'held'") == 0

    await eventually(all_settled, timeout_s=120, every_s=0.2)
    assert await pool.fetchval("SELECT count(*) FROM freeze_orders") == ENTRIES * PAYEES
    assert bank.overlaps == []
    freezes = [k for k in bank.sent if not k.endswith("/statement")]
    assert len(freezes) == ENTRIES * PAYEES and set(bank.sent.values()) == {1}
    held = await pool.fetchval("SELECT sum(held_minor) FROM freeze_orders")
    assert held == sum((1000 + n) * PAYEES for n in range(ENTRIES))
    # Every replica did some of the work (the event log names the replica that recorded each hold).
    actors = await pool.fetch("SELECT actor, count(*) FROM case_events WHERE kind = 'order.held' GROUP BY actor")
    assert len(actors) == 3 and all(r["actor"].startswith("dispatcher@") and r["count"] > 0 for r in actors)
    case = await stubs[0].GetCase(station_pb2.GetCaseRequest(case_id=case_ids[-1]))
    assert case.settled and case.held_minor == (1000 + ENTRIES - 1) * PAYEES

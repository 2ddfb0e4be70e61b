"""The watchers of one case share one read per change, woken by the database's notifications
(stopay/service/watch.py): many WatchCase streams of one case see a change after one read, a change
whose notification was lost is seen after the listener reconnects or by the slow sweep, and a slow
watcher neither blocks the others nor holds a queue of its own. Reads are counted by the hub."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from functools import partial

import pytest

from stopay.api.convert import EVENT_KIND
from stopay.bootstrap import App
from stopay.domain.case import CaseEvent, CaseView
from stopay.domain.errors import StoreUnavailable
from stopay.service.watch import Seen, WatchHub
from stopay.store import cases
from stopay.store.database import open_pool
from stopay.v1 import station_pb2, station_pb2_grpc
from tests.conftest import eventually
from tests.entries import simple_request

PAYEE = ("ICBC", "6222000000000001", 500_000)
AGAIN = "transfer.reported_again"
QUIET = 3600.0  # a sweep that never comes within a test: only notifications wake the watchers

# An entry of one payee: the case, its freeze order and that order's stop.
ACCEPTED = ["case.accepted", "order.queued", "order.queued"]


def reported_again(station: str) -> station_pb2.SubmitEntryRequest:
    """Another report of simple_request(PAYEE)'s transfer T0: it links to the first case, which
    records a ``transfer.reported_again`` event in the same transaction (one notification)."""
    request = simple_request(PAYEE)
    request.station_id = station
    return request


async def heard(
    app: App, stub: station_pb2_grpc.StationServiceStub, request: station_pb2.SubmitEntryRequest, of: str = ""
) -> str:
    """Submits ``request`` and waits until this process's listener has heard of the change of case
    ``of``: no notification of it is still on its way when this returns. A new case is told to no
    one (no one can watch it before its entry commits, migration 0019): nothing to wait for."""
    names: list[str | None] = []
    with app.notifications.cases(names.append):
        reply = await stub.SubmitEntry(request)
        if not of:
            return reply.case_id

        async def arrived() -> bool:
            return (of or reply.case_id) in names

        await eventually(arrived)
    return reply.case_id


async def listening(app: App) -> None:
    async def up() -> bool:
        return app.notifications.listening

    await eventually(up)


async def test_many_watchers_of_one_case_see_a_change_after_one_read(make_app, channel_to) -> None:
    app = await make_app(dispatcher=False, watch_sweep_s=QUIET)
    assert app.hub is not None
    stub = channel_to(app)
    await listening(app)
    case_id = await heard(app, stub, simple_request(PAYEE))
    streams = [stub.WatchCase(station_pb2.WatchCaseRequest(case_id=case_id, follow=True)) for _ in range(40)]
    firsts = await asyncio.gather(*(s.read() for s in streams))
    # Every first update at once, all from one read: the first stream's; the others joined it.
    assert {EVENT_KIND.name(e.kind) for u in firsts for e in u.events} == {"case.accepted", "order.queued"}
    assert app.hub.reads == 1 and app.hub.watched == 1 and app.hub.watchers == 40

    await heard(app, stub, reported_again("CQ-JIANGBEI-02"), of=case_id)
    changes = await asyncio.gather(*(s.read() for s in streams))
    for update in changes:
        assert [EVENT_KIND.name(e.kind) for e in update.events] == [AGAIN]
        assert len(update.case.linked_cases) == 1
    assert app.hub.reads == 2  # one notification, one read for the 40 streams

    for s in streams:
        s.cancel()

    async def gone() -> bool:
        return app.hub is not None and app.hub.watched == 0

    await eventually(gone)


async def test_a_change_missed_while_the_listener_was_down_is_read_when_it_is_back(make_app, channel_to, pool) -> None:
    app = await make_app(dispatcher=False, watch_sweep_s=QUIET)
    assert app.hub is not None
    stub = channel_to(app)
    await listening(app)
    case_id = await heard(app, stub, simple_request(PAYEE))
    stream = stub.WatchCase(station_pb2.WatchCaseRequest(case_id=case_id, follow=True))
    await stream.read()
    reads = app.hub.reads

    # The listening connection dies; the change below commits while nobody listens: its
    # notification is lost for good.
    listener = app.notifications._listening  # its last query may be a NOTIFY, not its LISTEN
    assert listener is not None
    await pool.execute("SELECT pg_terminate_backend($1)", listener.get_server_pid())

    async def down() -> bool:
        return not app.notifications.listening

    await eventually(down)
    await stub.SubmitEntry(reported_again("CQ-JIANGBEI-02"))
    assert app.notifications.connections == 1, "the listener came back before the change: nothing was lost"

    update = await asyncio.wait_for(stream.read(), 30)  # the listener reconnects after its pause
    assert [EVENT_KIND.name(e.kind) for e in update.events] == [AGAIN]
    assert app.notifications.connections == 2 and app.hub.reads == reads + 1 and app.hub.swept == 0
    stream.cancel()


class Silent:
    """A source of case changes that never tells of one: every notification lost."""

    @contextlib.contextmanager
    def cases(self, changed: Callable[[str | None], None]) -> Iterator[None]:
        yield


class Told:
    """A source of case changes the test tells of each change."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[str | None], None]] = []

    @contextlib.contextmanager
    def cases(self, changed: Callable[[str | None], None]) -> Iterator[None]:
        self._listeners.append(changed)
        try:
            yield
        finally:
            self._listeners.remove(changed)

    def changed(self, case_id: str | None) -> None:
        for listener in self._listeners:
            listener(case_id)


@contextlib.asynccontextmanager
async def hub_on(*args: object, **kwargs: float) -> AsyncGenerator[WatchHub]:
    hub = WatchHub(*args, **kwargs)  # type: ignore[arg-type]
    hub.start()
    try:
        yield hub
    finally:
        await hub.close()


async def test_the_sweep_finds_a_change_whose_notification_was_lost(make_app, channel_to, pool) -> None:
    app = await make_app(dispatcher=False)
    stub = channel_to(app)
    case_id = (await stub.SubmitEntry(simple_request(PAYEE))).case_id
    async with (
        hub_on(partial(cases.look, pool), Silent(), sweep_s=0.2) as hub,
        contextlib.aclosing(hub.watch(uuid.UUID(case_id))) as looks,
    ):
        first = await anext(looks)
        assert first.case is not None and [e.kind for e in first.events] == ACCEPTED
        await stub.SubmitEntry(reported_again("CQ-JIANGBEI-02"))
        later = await asyncio.wait_for(anext(looks), 30)
        assert [e.kind for e in later.events] == [AGAIN]
        assert hub.swept >= 1


async def test_a_slow_watcher_blocks_no_one_and_gets_the_latest_with_every_event(make_app, channel_to, pool) -> None:
    app = await make_app(dispatcher=False)
    stub = channel_to(app)
    case_id = uuid.UUID((await stub.SubmitEntry(simple_request(PAYEE))).case_id)
    told = Told()
    async with (
        hub_on(partial(cases.look, pool), told, sweep_s=QUIET) as hub,
        contextlib.aclosing(hub.watch(case_id)) as slow,
        contextlib.aclosing(hub.watch(case_id)) as fast,
    ):
        await anext(slow)  # and then it reads no more for a while
        await anext(fast)
        for n in range(3):
            await stub.SubmitEntry(reported_again(f"CQ-STATION-{n}"))
            told.changed(str(case_id))
            seen = await asyncio.wait_for(anext(fast), 30)
            assert [e.kind for e in seen.events] == [AGAIN]
        assert hub.reads == 4
        # The slow one comes back: the latest case and the three events, in one look.
        caught_up = await asyncio.wait_for(anext(slow), 30)
        assert [e.kind for e in caught_up.events] == [AGAIN] * 3
        assert caught_up.case is not None and len(caught_up.case.links) == 3
        assert hub.reads == 4


async def test_changes_told_during_a_read_make_one_more_read(make_app, channel_to, pool) -> None:
    app = await make_app(dispatcher=False)
    stub = channel_to(app)
    case_id = uuid.UUID((await stub.SubmitEntry(simple_request(PAYEE))).case_id)
    gate = asyncio.Event()
    gate.set()
    begun = asyncio.Event()

    async def gated(case: uuid.UUID, after_seq: int) -> tuple[CaseView | None, Sequence[CaseEvent]]:
        begun.set()
        await gate.wait()
        return await cases.look(pool, case, after_seq)

    told = Told()
    async with (
        hub_on(gated, told, sweep_s=QUIET) as hub,
        contextlib.aclosing(hub.watch(case_id)) as looks,
    ):
        await anext(looks)
        gate.clear()
        begun.clear()
        told.changed(str(case_id))
        await begun.wait()  # a read is on its way, held at the gate
        await stub.SubmitEntry(reported_again("CQ-JIANGBEI-02"))
        for _ in range(10):  # ten notifications while it reads
            told.changed(str(case_id))
        gate.set()
        seen: list[Seen] = []
        while not any(e.kind == AGAIN for s in seen for e in s.events):
            seen.append(await asyncio.wait_for(anext(looks), 30))
        assert hub.reads == 3  # the first look, the held read, and one more for the ten


async def test_a_failed_read_ends_the_watch_and_a_new_watcher_starts_afresh(make_app, channel_to, dsn) -> None:
    app = await make_app(dispatcher=False)
    stub = channel_to(app)
    case_id = uuid.UUID((await stub.SubmitEntry(simple_request(PAYEE))).case_id)
    closing = await open_pool(dsn, min_size=1, max_size=1)
    through = [closing]

    async def read(case: uuid.UUID, after_seq: int) -> tuple[CaseView | None, Sequence[CaseEvent]]:
        return await cases.look(through[0], case, after_seq)

    told = Told()
    async with hub_on(read, told, sweep_s=QUIET) as hub:
        async with contextlib.aclosing(hub.watch(case_id)) as first, contextlib.aclosing(hub.watch(case_id)) as second:
            await anext(first)
            await anext(second)
            await closing.close()  # the database goes out of reach
            told.changed(str(case_id))
            for looks in (first, second):  # each watcher is told
                with pytest.raises(StoreUnavailable):
                    await asyncio.wait_for(anext(looks), 30)
            assert hub.watched == 0  # the failed look is not kept for the next watcher
        through[0] = app.pool
        async with contextlib.aclosing(hub.watch(case_id)) as again:
            seen = await asyncio.wait_for(anext(again), 30)
            assert seen.case is not None and [e.kind for e in seen.events] == ACCEPTED

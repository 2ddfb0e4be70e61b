"""The hub of a process's case watchers: the watchers of one case share one read per change.

The database notifies each change of a case (``stopay_case``, see ``stopay/store/notifications.py``).
The hub listens through one port, :class:`CaseChanges`, and keeps, for every case someone watches,
the latest look at it: the case and all its events so far. A notification of a watched case marks
it due, and one read brings every watcher of that case up to date; notifications that come while
a read is on its way are answered by one more read after it (rapid changes coalesce into the
latest view). A watcher that has seen nothing new waits on its own event and costs nothing; nothing
polls per watcher.

Each watcher keeps only the version of the look it saw last and the last event it was given, so a
slow client holds no queue that could grow: when it comes back for more, it gets the latest look
and every event after its last one (drop-to-latest, no event lost). A new watcher of a case already
watched gets its first look at once from the hub, without a read.

Notifications can be missed while the listening connection is down: each time it is established
again, the source says so (``changed(None)``) and the hub reads every watched case again. A slow
sweep besides reads again each watched case that no read looked at for ``sweep_s``, at most
``sweep_per_s`` reads a second: the last resort for a notification lost any other way. A case
whose changes are notified is read by them and not swept.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import copy
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog

from stopay.domain.case import CaseEvent, CaseView

log = structlog.get_logger(__name__)


class CaseChanges(Protocol):
    """Where the hub learns that a case changed (the database's notifications)."""

    def cases(self, changed: Callable[[str | None], None]) -> contextlib.AbstractContextManager[None]:
        """Calls ``changed(case_id)`` when a case changes and ``changed(None)`` when changes may have
        gone unnotified (the source has just (re)connected), until the context ends."""
        ...


# Reads a case (None: no such case) and its events after a sequence number, in one snapshot.
Read = Callable[[uuid.UUID, int], Awaitable[tuple[CaseView | None, Sequence[CaseEvent]]]]


@dataclass(frozen=True, slots=True)
class Seen:
    """One look at a watched case: the case (None: no such case) and the events since the last look."""

    case: CaseView | None
    events: tuple[CaseEvent, ...]


class _Watcher:
    __slots__ = ("last_seq", "version", "wake")

    def __init__(self) -> None:
        self.wake = asyncio.Event()
        self.version = 0  # the case's version this watcher saw last (0: none yet)
        self.last_seq = 0  # the last event it was given


class _Watched:
    """A case with watchers: the latest look at it, shared by them."""

    __slots__ = ("case", "case_id", "due", "error", "events", "read_at", "reading", "seqs", "version", "watchers")

    def __init__(self, case_id: uuid.UUID, now: float) -> None:
        self.case_id = case_id
        self.read_at = now  # when its last read began (the loop's clock)
        self.watchers: set[_Watcher] = set()
        self.case: CaseView | None = None
        self.events: list[CaseEvent] = []
        self.seqs: list[int] = []
        self.version = 0  # moves on with each look that shows something new; 0: not read yet
        self.error: Exception | None = None
        self.due = False  # a change was notified that no read has begun to answer
        self.reading: asyncio.Task[None] | None = None

    @property
    def last_seq(self) -> int:
        return self.seqs[-1] if self.seqs else 0


class WatchHub:
    def __init__(
        self,
        read: Read,
        changes: CaseChanges,
        *,
        sweep_s: float = 60.0,
        sweep_per_s: float = 5.0,
        max_reads: int = 4,
    ) -> None:
        """``max_reads``: reads at once, so a burst (every case after a reconnection) leaves the
        connection pool to the other calls."""
        self._read = read
        self._changes = changes
        self._sweep_s = sweep_s
        self._sweep_per_s = sweep_per_s
        self._reading = asyncio.Semaphore(max_reads)
        self._cases: dict[str, _Watched] = {}
        self._listening = contextlib.ExitStack()
        self._sweeper: asyncio.Task[None] | None = None
        self._some = asyncio.Event()  # set while a case is watched: the sweep waits for one
        # Reads done (shared by every watcher of their case), and the reads the sweep asked for.
        self.reads = 0
        self.swept = 0

    @property
    def watched(self) -> int:
        """Cases watched now."""
        return len(self._cases)

    @property
    def watchers(self) -> int:
        return sum(len(w.watchers) for w in self._cases.values())

    def start(self) -> None:
        self._listening.enter_context(self._changes.cases(self._changed))
        self._sweeper = asyncio.create_task(self._sweep(), name="stopay-watch-sweep")

    async def close(self) -> None:
        self._listening.close()
        tasks = [t for t in (self._sweeper, *(w.reading for w in self._cases.values())) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def watch(self, case_id: uuid.UUID) -> AsyncGenerator[Seen]:
        """The case now, and again whenever it changed since the caller last looked, for as long as
        the caller iterates. The first look comes at once: from the hub when the case is watched
        already, else from a read. Close it (``contextlib.aclosing``) to stop watching at once."""
        key = str(case_id)
        watched = self._cases.get(key)
        if watched is None:
            watched = self._cases[key] = _Watched(case_id, asyncio.get_running_loop().time())
            self._some.set()
        me = _Watcher()
        watched.watchers.add(me)
        if watched.version == 0 and watched.reading is None:
            self._make_due(watched)
        try:
            while True:
                while me.version == watched.version:
                    me.wake.clear()
                    await me.wake.wait()
                me.version = watched.version
                if watched.error is not None:
                    raise _again(watched.error)
                events = tuple(watched.events[bisect.bisect_right(watched.seqs, me.last_seq) :])
                if events:
                    me.last_seq = events[-1].seq
                yield Seen(watched.case, events)
        finally:
            watched.watchers.discard(me)
            if not watched.watchers and self._cases.get(key) is watched:
                self._forget(key)

    def _forget(self, key: str) -> None:
        del self._cases[key]
        if not self._cases:
            self._some.clear()

    def _changed(self, case_id: str | None) -> None:
        if case_id is None:
            for every in self._cases.values():
                self._make_due(every)
            return
        watched = self._cases.get(case_id)
        if watched is not None:
            self._make_due(watched)

    def _make_due(self, watched: _Watched) -> None:
        watched.due = True
        if watched.reading is None:
            watched.reading = asyncio.create_task(self._refresh(watched), name="stopay-watch-read")

    async def _refresh(self, watched: _Watched) -> None:
        """Reads the case while a change is due and someone watches it, one read at a time."""
        try:
            while watched.due and watched.watchers:
                async with self._reading:
                    if not watched.watchers:
                        break
                    watched.due = False  # what is notified from now on needs another read
                    watched.read_at = asyncio.get_running_loop().time()
                    self.reads += 1
                    case, events = await self._read(watched.case_id, watched.last_seq)
                self._publish(watched, case, events)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every watcher of the case is told; a new one starts afresh
            log.warning("watch.read_failed", case_id=str(watched.case_id), error=f"{type(exc).__name__}: {exc}")
            watched.error = exc
            watched.version += 1
            key = str(watched.case_id)
            if self._cases.get(key) is watched:
                self._forget(key)
            for watcher in watched.watchers:
                watcher.wake.set()
        finally:
            watched.reading = None

    def _publish(self, watched: _Watched, case: CaseView | None, events: Sequence[CaseEvent]) -> None:
        fresh = [e for e in events if e.seq > watched.last_seq]
        if watched.version and not fresh and case == watched.case:
            return  # nothing new: the watchers sleep on
        watched.case = case
        watched.events.extend(fresh)
        watched.seqs.extend(e.seq for e in fresh)
        watched.version += 1
        for watcher in watched.watchers:
            watcher.wake.set()

    async def _sweep(self) -> None:
        """Reads again each watched case that no read has looked at for ``sweep_s``, the one read
        longest ago first, at most ``sweep_per_s`` a second; sleeps until the next is due."""
        loop = asyncio.get_running_loop()
        while True:
            await self._some.wait()
            oldest = min(self._cases.values(), key=lambda w: w.read_at)
            wait = oldest.read_at + self._sweep_s - loop.time()
            if wait > 0:  # again after it: a case watched meanwhile is due later still
                await asyncio.sleep(wait)
                continue
            oldest.read_at = loop.time()  # not picked again before its read begins
            self.swept += 1
            self._make_due(oldest)
            await asyncio.sleep(1 / self._sweep_per_s)


def _again(exc: Exception) -> Exception:
    """The same failure for one more watcher: a copy (each raise adds to an exception's traceback),
    else the failure itself."""
    try:
        again = copy.copy(exc)
    except Exception:
        return exc
    again.__cause__ = exc.__cause__
    return again

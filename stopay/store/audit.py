"""The audit trail's hash chains: recomputed in Python to verify them, and their heads for export.

Every case's events form a SHA-256 chain, written by the database
(``store/migrations/0006_audit_chain.sql``, which defines it)::

    hash(n) = SHA-256(prev_hash(n) || UTF-8 of canonical(n)),   prev_hash(1) = 32 zero bytes,
    prev_hash(n) = hash(n - 1)

``canonical(n)`` is jsonb's text of ``[case_id, chain_pos, seq, at, actor, kind, order_id, detail]``.
:func:`canonical_json` and :func:`event_encoding` reproduce it here exactly, so :func:`verify` needs
nothing of the database but its rows. :func:`heads` gives each chain's end and a root digest over all
of them, to be kept elsewhere: a later root that differs means history was rewritten, even if the
chains were recomputed to hide it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import asyncpg

from stopay.store.errors import database_errors
from stopay.store.queries import query

ZERO_HASH = bytes(32)
T = TypeVar("T")

# What ChainBreak.kind says.
HASH_MISMATCH = "hash mismatch"  # the event's content (or hash) is not what was hashed
PREV_HASH_MISMATCH = "prev_hash mismatch"  # the event does not link to the one before it
HEAD_MISMATCH = "head mismatch"  # the head does not name the chain's last event
MISSING_EVENTS = "missing events"  # chain positions are absent: events were deleted


def canonical_json(value: Any) -> str:
    """``value`` as PostgreSQL writes it as jsonb text: keys sorted by length then bytewise, ", "
    and ": " as separators, only '"', '\\' and control characters escaped, numbers in plain decimal
    notation. Parse JSON with ``parse_float=Decimal`` so that numbers keep their digits."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"not a JSON number: {value}")
        return format(value.copy_abs() if value.is_zero() else value, "f")
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(canonical_json(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return "{" + ", ".join(f"{canonical_json(k)}: {canonical_json(value[k])}" for k in keys) + "}"
    raise TypeError(f"not JSON: {type(value).__name__}")


def canonical_time(at: datetime) -> str:
    """``at`` in UTC to the microsecond, as ``to_char(at AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`` writes it."""
    u = at.astimezone(UTC)
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond:06d}Z"


def event_encoding(
    case_id: uuid.UUID,
    chain_pos: int,
    seq: int,
    at: datetime,
    actor: str,
    kind: str,
    order_id: uuid.UUID | None,
    detail: Any,
) -> bytes:
    """The bytes an event's hash covers after its prev_hash; ``detail`` is the parsed JSON value."""
    return canonical_json(
        [
            str(case_id),
            chain_pos,
            seq,
            canonical_time(at),
            actor,
            kind,
            None if order_id is None else str(order_id),
            detail,
        ]
    ).encode("utf-8")


def event_hash(prev_hash: bytes, encoding: bytes) -> bytes:
    return hashlib.sha256(prev_hash + encoding).digest()


def root_digest(lines: Iterable[str]) -> str:
    """SHA-256 (hex) over the sorted ``case_id:seq:hexhash`` lines, each ending in a newline."""
    return hashlib.sha256("".join(f"{line}\n" for line in sorted(lines)).encode()).hexdigest()


def head_line(case_id: uuid.UUID, seq: int, digest: bytes) -> str:
    return f"{case_id}:{seq}:{digest.hex()}"


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first broken place in one case's chain. ``seq`` names the first broken event: for
    missing events the one after the gap or, when the chain's end is missing, the last event the
    head recorded; for a head mismatch the chain's last event."""

    case_id: uuid.UUID
    seq: int
    kind: str  # HASH_MISMATCH, PREV_HASH_MISMATCH, HEAD_MISMATCH or MISSING_EVENTS
    detail: str

    @property
    def problem(self) -> str:
        return f"{self.kind}: {self.detail}"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    ok: bool
    cases: int  # chains verified (cases with events, or with a head that counts some)
    events: int
    # root_digest over every chain's end as recomputed from the events' content alone; equal to
    # heads().root_hash when every chain verifies.
    root_hash: str
    breaks: tuple[ChainBreak, ...]  # the first break of each broken chain, by case_id
    # For the (case_id, seq) asked for (``wanted``): the event's chain_pos and its hash recomputed
    # from the content of its chain alone, when the event exists.
    positions: dict[tuple[uuid.UUID, int], tuple[int, bytes]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChainHead:
    case_id: uuid.UUID
    seq: int  # the last event's
    hash: bytes  # the last event's
    events: int

    @property
    def line(self) -> str:
        return head_line(self.case_id, self.seq, self.hash)


@dataclass(frozen=True, slots=True)
class ChainHeads:
    taken_at: datetime | None  # database time of the snapshot (None when there are no chains)
    heads: tuple[ChainHead, ...]  # every case with at least one event, by case_id
    root_hash: str

    def as_json(self) -> dict[str, Any]:
        return {
            "taken_at": self.taken_at.isoformat() if self.taken_at else None,
            "root_hash": self.root_hash,
            "heads": [
                {"case_id": str(h.case_id), "seq": h.seq, "hash": h.hash.hex(), "events": h.events} for h in self.heads
            ],
        }


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as its case's chain keeps it (a row of ``sql/audit_events.sql``)."""

    case_id: uuid.UUID
    chain_pos: int
    seq: int
    at: datetime
    actor: str
    kind: str
    order_id: uuid.UUID | None
    detail: str  # jsonb's canonical text, which the hash covers
    prev_hash: bytes
    hash: bytes


class _Chain:
    """One case's chain, checked event by event in chain order."""

    def __init__(
        self,
        case_id: uuid.UUID,
        wanted: set[int] | None = None,
        positions: dict[tuple[uuid.UUID, int], tuple[int, bytes]] | None = None,
    ) -> None:
        self.case_id = case_id
        self.wanted = wanted or set()
        self.positions = positions if positions is not None else {}
        self.events = 0
        self.pos = 0  # chain_pos of the last event
        self.seq = 0  # seq of the last event
        self.stored = ZERO_HASH  # the last event's hash as stored
        self.recomputed = ZERO_HASH  # the chain recomputed from content alone
        self.broken: ChainBreak | None = None

    def _break(self, seq: int, kind: str, detail: str) -> None:
        if self.broken is None:
            self.broken = ChainBreak(self.case_id, seq, kind, detail)

    def add(self, event: StoredEvent) -> None:
        self.events += 1
        seq, pos = event.seq, event.chain_pos
        prev_hash, stored = bytes(event.prev_hash or b""), bytes(event.hash or b"")
        try:
            detail = json.loads(event.detail, parse_float=Decimal)
            encoding = event_encoding(self.case_id, pos, seq, event.at, event.actor, event.kind, event.order_id, detail)
        except (TypeError, ValueError, OverflowError) as exc:  # a value no writer could have hashed
            encoding = None
            self._break(seq, HASH_MISMATCH, f"the event cannot be encoded: {exc}")
        if encoding is not None:
            self.recomputed = event_hash(self.recomputed, encoding)
        if seq in self.wanted:
            self.positions[(self.case_id, seq)] = (pos, self.recomputed if encoding is not None else b"")
        if self.broken is None:
            if pos is None or pos <= self.pos:
                self._break(
                    seq,
                    PREV_HASH_MISMATCH,
                    f"chain position {pos} follows position {self.pos} (seq {self.seq}): out of order, or a fork",
                )
            elif pos > self.pos + 1:
                gap = (
                    f"chain position {self.pos + 1} is"
                    if pos == self.pos + 2
                    else f"chain positions {self.pos + 1}..{pos - 1} are"
                )
                self._break(seq, MISSING_EVENTS, f"{gap} missing before this event")
            elif prev_hash != self.stored:
                before = f"event seq {self.seq}" if self.pos else "the start (32 zero bytes)"
                self._break(
                    seq,
                    PREV_HASH_MISMATCH,
                    f"prev_hash {prev_hash.hex()} is not the hash of {before}: {self.stored.hex()}",
                )
            elif encoding is not None and event_hash(prev_hash, encoding) != stored:
                self._break(
                    seq,
                    HASH_MISMATCH,
                    f"stored hash {stored.hex()}, recomputed {event_hash(prev_hash, encoding).hex()}",
                )
        self.pos = pos if pos is not None else self.pos + 1
        self.seq = seq
        self.stored = stored

    def finish(self, head: ChainHead | None) -> None:
        if self.broken is not None:
            return
        if head is None:
            if self.events:
                self._break(self.seq, HEAD_MISMATCH, "the chain has no head")
            return
        h_seq, h_hash, h_events = head.seq, head.hash, head.events
        if h_events > self.pos:
            gap = f"position {h_events} is" if h_events == self.pos + 1 else f"positions {self.pos + 1}..{h_events} are"
            end = f"position {self.pos} (seq {self.seq})" if self.pos else "no event"
            self._break(
                h_seq,
                MISSING_EVENTS,
                f"the head counts {h_events} events, ending at seq {h_seq}; the chain has {end}: chain {gap} missing",
            )
        elif (h_events, h_seq, h_hash) != (self.pos, self.seq, self.stored):
            self._break(
                self.seq,
                HEAD_MISMATCH,
                f"the head says {h_events} events ending at seq {h_seq} with hash {h_hash.hex()};"
                f" the chain has {self.pos} ending at seq {self.seq} with hash {self.stored.hex()}",
            )


async def _events(conn: asyncpg.Connection) -> AsyncIterator[StoredEvent]:
    async for row in conn.cursor(query("audit_events").text, prefetch=2000):
        yield StoredEvent(**dict(row))


async def _heads_in_order(conn: asyncpg.Connection) -> AsyncIterator[ChainHead]:
    async for row in conn.cursor(query("audit_heads").text, prefetch=2000):
        yield _head(row)


def _head(row: asyncpg.Record) -> ChainHead:
    return ChainHead(row["case_id"], row["seq"], bytes(row["hash"]), row["events"])


async def _verify(conn: asyncpg.Connection, wanted: dict[uuid.UUID, set[int]] | None = None) -> VerifyReport:
    events = _events(conn)
    heads = _heads_in_order(conn)
    event = await anext(events, None)
    head = await anext(heads, None)
    breaks: list[ChainBreak] = []
    lines: list[str] = []
    cases = total = 0
    positions: dict[tuple[uuid.UUID, int], tuple[int, bytes]] = {}
    while event is not None or head is not None:
        # The next case in either stream (both come sorted by case_id).
        case_id = min(r.case_id for r in (event, head) if r is not None)
        chain = _Chain(case_id, (wanted or {}).get(case_id), positions)
        while event is not None and event.case_id == case_id:
            chain.add(event)
            event = await anext(events, None)
        case_head = None
        if head is not None and head.case_id == case_id:
            case_head, head = head, await anext(heads, None)
        chain.finish(case_head)
        if chain.events == 0 and chain.broken is None:
            continue  # an empty head: a case without events yet
        cases += 1
        total += chain.events
        if chain.events:
            lines.append(head_line(case_id, chain.seq, chain.recomputed))
        if chain.broken is not None:
            breaks.append(chain.broken)
    return VerifyReport(not breaks, cases, total, root_digest(lines), tuple(breaks), positions)


async def verify(
    pool_or_conn: asyncpg.Pool | asyncpg.Connection, wanted: dict[uuid.UUID, set[int]] | None = None
) -> VerifyReport:
    """Recomputes every case's chain from the rows, in one snapshot, and checks it against its
    head; reports the first broken event of each broken chain, and the recomputed hash of each
    event ``wanted`` names (case_id -> seqs)."""

    async def read(conn: asyncpg.Connection) -> VerifyReport:
        return await _verify(conn, wanted)

    with database_errors("could not verify the audit trail"):
        if isinstance(pool_or_conn, asyncpg.Pool):
            async with pool_or_conn.acquire() as conn:
                return await in_snapshot(conn, read)
        return await in_snapshot(pool_or_conn, read)


async def _heads(conn: asyncpg.Connection) -> ChainHeads:
    rows = await conn.fetch(query("audit_heads").text)
    found = tuple(_head(r) for r in rows if r["events"] > 0)
    return ChainHeads(rows[0]["taken_at"] if rows else None, found, root_digest(h.line for h in found))


async def heads(pool_or_conn: asyncpg.Pool | asyncpg.Connection) -> ChainHeads:
    """Every chain's head, as the database keeps it, and their root digest, for export."""
    with database_errors("could not read the audit chain heads"):
        if isinstance(pool_or_conn, asyncpg.Pool):
            async with pool_or_conn.acquire() as conn:
                return await in_snapshot(conn, _heads)
        return await in_snapshot(pool_or_conn, _heads)


async def in_snapshot(conn: asyncpg.Connection, read: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """``read`` in one repeatable-read snapshot (or in the caller's transaction, if it has one)."""
    if conn.is_in_transaction():
        async with conn.transaction():
            return await read(conn)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return await read(conn)

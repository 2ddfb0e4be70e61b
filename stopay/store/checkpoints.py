"""Signed checkpoints of the audit chains' heads: written here, checked by ``store/audit.py``.

A checkpoint is every chain's head read in one snapshot, their root digest and the snapshot's
database time, signed (``stopay/security/checkpoints.py``) and kept in the append-only
``audit_checkpoints`` table.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from stopay.security.checkpoints import Checkpoint, Signer, fingerprint, verify_signature
from stopay.store import audit
from stopay.store.errors import database_errors
from stopay.store.queries import query


@dataclass(frozen=True, slots=True)
class Written:
    checkpoint_id: int
    taken_at: datetime | None
    heads: int
    root_hash: str


async def write(pool: asyncpg.Pool, signer: Signer) -> Written:
    """Reads every chain's head in one snapshot, signs them and records the checkpoint."""
    with database_errors("could not write an audit checkpoint"):
        async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            found = await audit.heads(conn)
            taken_at = found.taken_at or await conn.fetchval(query("db_now").text)
            checkpoint = Checkpoint(taken_at, signer.fingerprint, len(found.heads), found.root_hash)
            heads = [[str(h.case_id), h.seq, h.events, h.hash.hex()] for h in found.heads]
            q = query("checkpoint_insert")
            checkpoint_id = await conn.fetchval(
                q.text,
                *q.args(
                    taken_at=taken_at,
                    key_fingerprint=signer.fingerprint,
                    root_hash=found.root_hash,
                    heads=heads,
                    signature=signer.sign(checkpoint),
                ),
            )
    return Written(checkpoint_id, taken_at, len(found.heads), found.root_hash)


@dataclass(frozen=True, slots=True)
class StoredHead:
    case_id: uuid.UUID
    seq: int
    events: int
    hash: bytes


@dataclass(frozen=True, slots=True)
class Stored:
    checkpoint_id: int
    checkpoint: Checkpoint
    heads: tuple[StoredHead, ...]
    signature: bytes
    problem: str | None = None  # the row cannot be read as a checkpoint


def _stored(row: asyncpg.Record) -> Stored:
    checkpoint = Checkpoint(row["taken_at"], row["key_fingerprint"], 0, row["root_hash"])
    try:
        heads = tuple(
            StoredHead(uuid.UUID(c), int(s), int(n), bytes.fromhex(h)) for c, s, n, h in json.loads(row["heads"])
        )
    except (ValueError, TypeError) as exc:
        return Stored(row["checkpoint_id"], checkpoint, (), bytes(row["signature"]), f"its heads cannot be read: {exc}")
    checkpoint = Checkpoint(row["taken_at"], row["key_fingerprint"], len(heads), row["root_hash"])
    return Stored(row["checkpoint_id"], checkpoint, heads, bytes(row["signature"]))


async def stored(conn: asyncpg.Connection) -> list[Stored]:
    """Every checkpoint, oldest first (the caller's snapshot)."""
    return [_stored(r) for r in await conn.fetch(query("checkpoints").text)]


@dataclass(frozen=True, slots=True)
class CheckpointProblem:
    checkpoint_id: int  # 0: about the checkpoints as a whole
    case_id: uuid.UUID | None
    seq: int
    problem: str


@dataclass(frozen=True, slots=True)
class Verified:
    """The chains' verification, and the checkpoints' when public keys were given."""

    chains: audit.VerifyReport
    keys_given: bool
    checkpoints_checked: int
    problems: tuple[CheckpointProblem, ...]
    latest_at: datetime | None  # taken_at of the newest checkpoint that verified

    @property
    def ok(self) -> bool:
        return self.chains.ok and not self.problems


async def verify(
    pool_or_conn: asyncpg.Pool | asyncpg.Connection,
    public_keys: list[Ed25519PublicKey] | tuple[Ed25519PublicKey, ...] = (),
) -> Verified:
    """Recomputes every chain (``audit.verify``) and, with ``public_keys``, checks every checkpoint
    in the same snapshot: its signature by one of those keys, its heads against the root it signed,
    and that the event each head names still has that hash and chain position in the chain
    recomputed from the events. A history edited and re-chained after a checkpoint fails here,
    however consistent the chain itself is. The keys come from the caller, never from the database."""
    keys = {fingerprint(k): k for k in public_keys}

    async def read(conn: asyncpg.Connection) -> Verified:
        found = await stored(conn) if keys else []
        wanted: dict[uuid.UUID, set[int]] = {}
        for c in found:
            for h in c.heads:
                wanted.setdefault(h.case_id, set()).add(h.seq)
        chains = await audit.verify(conn, wanted)
        return _check(chains, keys, found)

    with database_errors("could not verify the audit trail"):
        if isinstance(pool_or_conn, asyncpg.Pool):
            async with pool_or_conn.acquire() as conn:
                return await audit.in_snapshot(conn, read)
        return await audit.in_snapshot(pool_or_conn, read)


def _check(chains: audit.VerifyReport, keys: dict[str, Ed25519PublicKey], found: list[Stored]) -> Verified:
    problems: list[CheckpointProblem] = []
    latest = None
    for c in found:
        wrong = c.problem or verify_signature(keys, c.checkpoint, c.signature)
        if (
            wrong is None
            and audit.root_digest(audit.head_line(h.case_id, h.seq, h.hash) for h in c.heads) != c.checkpoint.root_hash
        ):
            wrong = "its heads do not give the root it signed: they were changed"
        if wrong is not None:
            problems.append(CheckpointProblem(c.checkpoint_id, None, 0, wrong))
            continue
        latest = c.checkpoint.taken_at
        for h in c.heads:
            problem = _head_problem(h, chains.positions.get((h.case_id, h.seq)))
            if problem:
                problems.append(CheckpointProblem(c.checkpoint_id, h.case_id, h.seq, problem))
    if keys and latest is None and not problems:
        problems.append(
            CheckpointProblem(
                0, None, 0, "no checkpoint signed by the keys given: nothing vouches for the chains' heads"
            )
        )
    return Verified(chains, bool(keys), len(found), tuple(problems), latest)


def _head_problem(head: StoredHead, now: tuple[int, bytes] | None) -> str | None:
    if now is None:
        return f"event seq {head.seq}, the head of {head.events} events when the checkpoint was taken, is missing"
    pos, recomputed = now
    if pos != head.events:
        return (
            f"event seq {head.seq} is at chain position {pos}; the checkpoint signed it as the head of"
            f" {head.events} events"
        )
    if recomputed != head.hash:
        return (
            f"the chain recomputed from the events gives event seq {head.seq} the hash {recomputed.hex()};"
            f" the checkpoint signed {head.hash.hex()}: the history up to it was rewritten"
        )
    return None

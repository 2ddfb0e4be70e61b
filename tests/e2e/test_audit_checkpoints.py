"""Signed checkpoints of the audit chains on a real PostgreSQL: a full re-chain of the events, done
as a superuser could (triggers off, an event edited, every later hash recomputed with stopay's own
hash function), verifies as a chain but fails against the checkpoint, naming the case and the
checkpoint; bad signatures, unknown keys, edited heads and missing events are named too."""

from __future__ import annotations

import json
import os
import stat
import uuid
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from stopay.security.checkpoints import Signer, new_private_key, private_pem, public_pem
from stopay.store import audit, checkpoints
from stopay.v1 import audit_pb2, audit_pb2_grpc
from tests.e2e.test_audit_cli import stopay
from tests.integration.test_audit_chain import some_cases, superuser


async def rechain(pool, case_id: uuid.UUID, chain_pos: int, actor: str) -> None:
    """Edits the event at ``chain_pos`` of the case, then recomputes that hash and every later one
    (and the head) with stopay's own encoding, as someone with the owner's access could."""
    rows = await pool.fetch(
        "SELECT chain_pos, seq, at, actor, kind, order_id, detail::text AS detail, prev_hash"
        " FROM case_events WHERE case_id = $1 ORDER BY chain_pos",
        case_id,
    )
    prev = bytes(rows[chain_pos - 1]["prev_hash"])
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE case_events DISABLE TRIGGER case_events_append_only")
        await conn.execute("ALTER TABLE case_chain_heads DISABLE TRIGGER case_chain_heads_guard")
        for r in rows[chain_pos - 1 :]:
            who = actor if r["chain_pos"] == chain_pos else r["actor"]
            digest = audit.event_hash(
                prev,
                audit.event_encoding(
                    case_id,
                    r["chain_pos"],
                    r["seq"],
                    r["at"],
                    who,
                    r["kind"],
                    r["order_id"],
                    json.loads(r["detail"], parse_float=Decimal),
                ),
            )
            await conn.execute(
                "UPDATE case_events SET actor = $1, prev_hash = $2, hash = $3 WHERE case_id = $4 AND seq = $5",
                who,
                prev,
                digest,
                case_id,
                r["seq"],
            )
            prev = digest
        await conn.execute("UPDATE case_chain_heads SET hash = $1 WHERE case_id = $2", prev, case_id)
        await conn.execute("ALTER TABLE case_chain_heads ENABLE TRIGGER case_chain_heads_guard")
        await conn.execute("ALTER TABLE case_events ENABLE TRIGGER case_events_append_only")


@pytest.fixture
def key(tmp_path: Path):  # type: ignore[no-untyped-def]
    private = new_private_key()
    (tmp_path / "checkpoint.pub").write_bytes(public_pem(private.public_key()))
    (tmp_path / "checkpoint.key").write_bytes(private_pem(private))
    return private


async def test_a_full_rechain_verifies_as_a_chain_but_not_against_the_checkpoint(dsn, pool, key, tmp_path) -> None:
    cases = await some_cases(pool, 3)
    written = await checkpoints.write(pool, Signer(key))
    assert written.heads == 3
    assert (await checkpoints.verify(pool, [key.public_key()])).ok

    await rechain(pool, cases[1], 2, "officer:nobody")
    chains = await audit.verify(pool)
    assert chains.ok  # the chain itself is consistent again: only the checkpoint can tell
    assert (await checkpoints.verify(pool)).ok
    report = await checkpoints.verify(pool, [key.public_key()])
    assert not report.ok
    head_seq = await pool.fetchval("SELECT seq FROM case_chain_heads WHERE case_id = $1", cases[1])
    assert [(p.checkpoint_id, p.case_id, p.seq) for p in report.problems] == [
        (written.checkpoint_id, cases[1], head_seq)
    ]
    assert "rewritten" in report.problems[0].problem

    out = tmp_path / "verify.txt"
    found = await stopay(
        "audit", "verify", "--dsn", dsn, "--public-key", str(tmp_path / "checkpoint.pub"), "--output", str(out)
    )
    assert found.returncode == 1, found.stderr
    text = out.read_text(encoding="utf-8")
    assert f"checkpoint {written.checkpoint_id} case {cases[1]} event {head_seq}:" in text
    without = await stopay("audit", "verify", "--dsn", dsn)
    assert without.returncode == 0 and "checkpoints not checked" in without.stdout


async def test_a_checkpoint_keeps_vouching_for_a_chain_that_grew(pool, key) -> None:
    cases = await some_cases(pool, 2)
    await checkpoints.write(pool, Signer(key))
    await some_cases(pool, 1)  # later events and a new case
    await checkpoints.write(pool, Signer(key))
    report = await checkpoints.verify(pool, [key.public_key()])
    assert report.ok and report.checkpoints_checked == 2 and report.latest_at is not None
    # Deleting the events a checkpoint named is caught (the chain's own check names it too).
    await superuser(pool, "DELETE FROM case_events WHERE case_id = $1", cases[0])
    await superuser(
        pool,
        "DELETE FROM case_chain_heads WHERE case_id = $1",
        cases[0],
        disable="case_chain_heads_guard",
        table="case_chain_heads",
    )
    report = await checkpoints.verify(pool, [key.public_key()])
    assert {(p.case_id, "missing" in p.problem) for p in report.problems} == {(cases[0], True)}


async def test_bad_signatures_unknown_keys_and_edited_heads_are_named(pool, key) -> None:
    await some_cases(pool, 2)
    good = await checkpoints.write(pool, Signer(key))
    other = new_private_key()
    foreign = await checkpoints.write(pool, Signer(other))
    row = await pool.fetchrow("SELECT * FROM audit_checkpoints WHERE checkpoint_id = $1", good.checkpoint_id)
    forged_id = await pool.fetchval(
        "INSERT INTO audit_checkpoints (taken_at, key_fingerprint, root_hash, heads, signature)"
        " VALUES ($1, $2, $3, $4, $5) RETURNING checkpoint_id",
        row["taken_at"],
        row["key_fingerprint"],
        "0" * 64,
        row["heads"],
        bytes(64),
    )
    report = await checkpoints.verify(pool, [key.public_key()])
    problems = {p.checkpoint_id: p.problem for p in report.problems}
    assert set(problems) == {foreign.checkpoint_id, forged_id}
    assert "not among the public keys given" in problems[foreign.checkpoint_id]
    assert "signature does not verify" in problems[forged_id]
    # Both keys given: the foreign one verifies too. Heads edited under a good signature are caught.
    await superuser(
        pool,
        "UPDATE audit_checkpoints SET heads = jsonb_set(heads, '{0,3}', to_jsonb(repeat('0', 64)))"
        " WHERE checkpoint_id = $1",
        good.checkpoint_id,
        disable="audit_checkpoints_append_only",
        table="audit_checkpoints",
    )
    report = await checkpoints.verify(pool, [key.public_key(), other.public_key()])
    problems = {p.checkpoint_id: p.problem for p in report.problems}
    assert set(problems) == {good.checkpoint_id, forged_id}
    assert "do not give the root" in problems[good.checkpoint_id]


async def test_a_key_without_any_checkpoint_is_a_problem(pool, key) -> None:
    await some_cases(pool, 1)
    report = await checkpoints.verify(pool, [key.public_key()])
    assert not report.ok and report.problems[0].checkpoint_id == 0 and "no checkpoint" in report.problems[0].problem


async def test_checkpoints_are_append_only(pool, key) -> None:
    import asyncpg

    await checkpoints.write(pool, Signer(key))
    for statement in (
        "UPDATE audit_checkpoints SET root_hash = root_hash",
        "DELETE FROM audit_checkpoints",
        "TRUNCATE audit_checkpoints",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await pool.execute(statement)


async def test_keygen_and_checkpoint_commands(dsn, pool, tmp_path) -> None:
    made = await stopay("audit", "keygen", str(tmp_path / "keys"))
    assert made.returncode == 0, made.stderr
    private = tmp_path / "keys" / "checkpoint.key"
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    again = await stopay("audit", "keygen", str(tmp_path / "keys"))
    assert again.returncode == 2 and "exists already" in again.stderr
    await some_cases(pool, 1)
    signed = await stopay("audit", "checkpoint", "--key", str(private), "--dsn", dsn)
    assert signed.returncode == 0, signed.stderr
    assert await pool.fetchval("SELECT count(*) FROM audit_checkpoints") == 1
    ok = await stopay("audit", "verify", "--dsn", dsn, "--public-key", str(tmp_path / "keys" / "checkpoint.pub"))
    assert ok.returncode == 0 and "1 signed checkpoint(s) match the chains" in ok.stdout, ok.stdout


async def test_verify_log_checks_checkpoints_with_the_caller_s_keys(make_app, pool, key, tmp_path) -> None:
    # No dispatcher: some_cases settles its orders by hand, which a dispatcher giving up the orders
    # of banks nobody serves would race; the checkpointer runs all the same.
    app = await make_app(checkpoint_key=tmp_path / "checkpoint.key", checkpoint_every_s=0.1, dispatcher=False)
    await some_cases(pool, 2)

    async def two() -> bool:
        return await pool.fetchval("SELECT count(*) FROM audit_checkpoints WHERE heads <> '[]'") >= 2

    from tests.conftest import eventually

    await eventually(two)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        stub = audit_pb2_grpc.AuditServiceStub(channel)
        result = await stub.VerifyLog(audit_pb2.VerifyLogRequest(public_keys_pem=[public_pem(key.public_key())]))
        assert result.ok and result.checkpoints_checked >= 2 and result.HasField("latest_checkpoint_at")
        unchecked = await stub.VerifyLog(audit_pb2.VerifyLogRequest())
        assert unchecked.ok and unchecked.checkpoints_checked == 0
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.VerifyLog(audit_pb2.VerifyLogRequest(public_keys_pem=[b"not a key"]))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(refused.value)
    bad = error_details_pb2.BadRequest()
    status.details[0].Unpack(bad)
    assert [v.field for v in bad.field_violations] == ["public_keys_pem[0]"]

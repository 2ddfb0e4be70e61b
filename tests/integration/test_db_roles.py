"""Least privilege in the database, on a real PostgreSQL: the service runs end to end as an
application role, and that role cannot change evidence, alter a table, disable a trigger or drop
one; every table is in the grant list; the evidence is append-only for the owner too (triggers)."""

from __future__ import annotations

import asyncio
import re
import uuid

import asyncpg
import grpc
import pytest

from stopay import bootstrap
from stopay.config import Settings
from stopay.dispatch.dispatcher import DispatchSettings
from stopay.store import checkpoints, migrate, queries
from stopay.store.database import open_pool
from stopay.store.errors import SchemaBehind, StoreError
from stopay.store.roles import grant_app_role
from stopay.v1 import audit_pb2, audit_pb2_grpc, common_pb2, holds_pb2, holds_pb2_grpc
from tests.conftest import EXAMPLES, eventually
from tests.entries import scenario_requests
from tests.integration.test_station_api import settled_case
from tests.roles import app_role

FAST = DispatchSettings(poll_s=0.2, retry_base_s=0.05, retry_cap_s=0.5, pending_recheck_s=0.2, sweep_s=0.2)

# What the application role must not do, each refused by the database as insufficient privilege
# (42501: no grant, or "must be owner").
FORBIDDEN = [
    "UPDATE case_events SET actor = 'nobody'",
    "DELETE FROM case_events",
    "DELETE FROM bank_answers",
    "UPDATE bank_answers SET held_minor = 0",
    "UPDATE entry_transfers SET amount_minor = 1",
    "DELETE FROM entry_transfers",
    "UPDATE cases SET victim_name = 'nobody'",
    "UPDATE cases SET reported_minor = 1",
    "DELETE FROM cases",
    "UPDATE case_chain_heads SET events = 0",
    "INSERT INTO case_chain_heads (case_id) VALUES (gen_random_uuid())",
    "UPDATE audit_checkpoints SET root_hash = root_hash",
    "DELETE FROM audit_checkpoints",
    "UPDATE freeze_orders SET requested_minor = 1",
    "DELETE FROM freeze_orders",
    "DELETE FROM holds",
    "UPDATE transfer_owners SET station_id = 'x'",
    "INSERT INTO stopay_clock (shift) VALUES (interval '1 day')",
    "DELETE FROM stopay_migrations",
    "TRUNCATE case_events",
    "TRUNCATE bank_answers",
    "TRUNCATE entry_transfers",
    "TRUNCATE cases CASCADE",
    "TRUNCATE audit_checkpoints",
    "ALTER TABLE case_events DISABLE TRIGGER case_events_append_only",
    "ALTER TABLE case_events DISABLE TRIGGER ALL",
    "ALTER TABLE cases ADD COLUMN note text",
    "ALTER TABLE bank_answers DROP CONSTRAINT bank_answers_pkey",
    "DROP TABLE case_events",
    "DROP TRIGGER case_events_append_only ON case_events",
    "CREATE TABLE shadow (id int)",
    "CREATE OR REPLACE FUNCTION case_events_append_only() RETURNS trigger LANGUAGE plpgsql"
    " AS $$BEGIN RETURN NEW; END$$",
    "SELECT stopay_grant_app(current_user, '{}')",
    "SELECT setval(pg_get_serial_sequence('case_events', 'seq'), 1)",
]


async def test_the_service_runs_end_to_end_as_the_application_role(dsn, pool, channel_to, tmp_path) -> None:
    """serve --migrate-dsn OWNER --dsn APP: the owner migrates and grants; the app role submits an
    entry, the banks' answers are applied, a hold is renewed and released, a checkpoint is signed and
    the log verifies."""
    from stopay.security.checkpoints import new_private_key, private_pem, public_pem

    key = new_private_key()
    (tmp_path / "k.pem").write_bytes(private_pem(key))
    async with app_role(dsn, grant=False) as (role, app_dsn):
        settings = Settings(
            listen="127.0.0.1:0",
            dsn=app_dsn,
            migrate_dsn=dsn,
            bank_networks=(EXAMPLES / "seed-xue.json",),
            dispatch=FAST,
            shutdown_grace_s=1.0,
            checkpoint_key=tmp_path / "k.pem",
            checkpoint_every_s=0.2,
        )
        app = await bootstrap.build(settings)
        try:
            await app.start()
            assert await app.pool.fetchval("SELECT current_user") == role
            stub = channel_to(app)
            (request,) = scenario_requests(app, EXAMPLES / "seed-xue.json")
            reply = await stub.SubmitEntry(request)
            case = await settled_case(stub, reply.case_id)
            assert case.held_minor == 56_000_000
            assert await pool.fetchval("SELECT count(*) FROM bank_answers WHERE case_id = $1", uuid.UUID(reply.case_id))
            held = next(o for o in case.orders if o.held_minor > 0)
            async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
                holds = holds_pb2_grpc.HoldServiceStub(channel)
                ref = holds_pb2.HoldRef(
                    case_id=reply.case_id,
                    account=common_pb2.AccountRef(bank_code=held.account.bank_code, number=held.account.number),
                )
                renewed = await holds.RenewStop(holds_pb2.RenewStopRequest(hold=ref, by=_by("renew")))
                assert renewed.stops == 2
                released = await holds.ReleaseHold(holds_pb2.ReleaseHoldRequest(hold=ref, by=_by("unrelated")))
                assert released.state == holds_pb2.HOLD_STATE_RELEASED

                async def given_back() -> bool:  # the dispatcher, as the app role, delivers the release
                    return bool(
                        await pool.fetchval(
                            "SELECT count(*) FROM freeze_orders WHERE case_id = $1 AND kind = 'release'"
                            " AND status = 'released'",
                            uuid.UUID(reply.case_id),
                        )
                    )

                await eventually(given_back)
                audit = audit_pb2_grpc.AuditServiceStub(channel)
                await _until(lambda: app.checkpointer is not None and app.checkpointer.written >= 2)
                result = await audit.VerifyLog(
                    audit_pb2.VerifyLogRequest(public_keys_pem=[public_pem(key.public_key())])
                )
            assert result.ok, result
            assert result.checkpoints_checked >= 2 and not result.checkpoint_problems
        finally:
            await app.stop()


def _by(reason: str) -> holds_pb2.StepBy:
    return holds_pb2.StepBy(officer_id="O-1001", reason=reason, request_id=uuid.uuid4().hex)


async def _until(check, timeout_s: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    async def ok() -> bool:
        return bool(check())

    await eventually(ok, timeout_s)


@pytest.mark.parametrize("statement", FORBIDDEN)
async def test_the_application_role_cannot_change_evidence_or_the_schema(dsn, pool, statement) -> None:
    from tests.integration.test_audit_chain import some_cases

    await some_cases(pool, 1)
    async with app_role(dsn) as (_, app_dsn):
        conn = await asyncpg.connect(app_dsn)
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
        finally:
            await conn.close()


async def test_the_evidence_is_append_only_for_the_owner_too(pool) -> None:
    from tests.integration.test_audit_chain import some_cases

    (case_id,) = await some_cases(pool, 1)
    await pool.execute(
        "INSERT INTO bank_answers (case_id, order_id, status_code, held_minor)"
        " SELECT case_id, order_id, 'ACTC', 0 FROM freeze_orders WHERE case_id = $1 LIMIT 1",
        case_id,
    )
    for statement in (
        "UPDATE cases SET victim_name = 'x'",
        "DELETE FROM cases",
        "TRUNCATE cases CASCADE",
        "UPDATE entry_transfers SET amount_minor = 1",
        "DELETE FROM entry_transfers",
        "TRUNCATE entry_transfers",
        "UPDATE bank_answers SET held_minor = 1",
        "DELETE FROM bank_answers",
        "TRUNCATE bank_answers",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await pool.execute(statement)


async def test_the_application_role_writes_what_the_service_writes(dsn, pool) -> None:
    """What the store does, as the application role: submit entries, retry orders (the chain's
    trigger and locks run as the owner), verify, checkpoint."""
    from stopay.security.checkpoints import Signer, new_private_key
    from tests.integration.test_audit_chain import some_cases

    async with app_role(dsn) as (_, app_dsn):
        app_pool = await open_pool(app_dsn, min_size=1, max_size=2)
        try:
            cases = await some_cases(app_pool, 2)
            assert (await checkpoints.verify(app_pool)).ok
            key = new_private_key()
            await checkpoints.write(app_pool, Signer(key))
            report = await checkpoints.verify(app_pool, [key.public_key()])
            assert report.ok and report.checkpoints_checked == 1
            # Per case: accepted, 2 freeze orders and their 2 stops queued, 2 retries.
            assert await pool.fetchval("SELECT count(*) FROM case_events WHERE case_id = ANY($1)", cases) == 2 * 7
        finally:
            await app_pool.close()


async def test_every_table_and_view_is_in_the_grant_list(dsn, pool) -> None:
    """The list in grant_app_role.sql names every table and view: a table a migration adds without
    its line makes the grant refuse, naming it. And each one named gives the role something."""
    async with app_role(dsn) as (role, _):
        relations = await pool.fetch(
            "SELECT c.relname FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace"
            " AND c.relkind IN ('r', 'p', 'v', 'm', 'f')"
        )
        listed = set(re.findall(r"^\s+\('([a-z_]+)',", queries.source("grant_app_role"), re.MULTILINE))
        assert {r["relname"] for r in relations} == listed
        for r in relations:
            assert await pool.fetchval(
                "SELECT has_table_privilege($1, $2, 'SELECT') OR has_table_privilege($1, $2, 'INSERT')",
                role,
                r["relname"],
            ), r["relname"]
        await pool.execute("CREATE TABLE forgotten_evidence (id int)")
        async with pool.acquire() as conn:
            with pytest.raises(StoreError, match="forgotten_evidence"):
                await grant_app_role(conn, role)


async def test_the_grant_is_exact_and_refuses_the_owner(dsn, pool) -> None:
    async with app_role(dsn) as (role, _):
        await pool.execute(f'GRANT UPDATE ON case_events TO "{role}"')
        await pool.execute(f'GRANT UPDATE (victim_name) ON cases TO "{role}"')
        async with pool.acquire() as conn:
            await grant_app_role(conn, role)  # takes back what the list does not give
            assert not await pool.fetchval("SELECT has_table_privilege($1, 'case_events', 'UPDATE')", role)
            assert not await pool.fetchval("SELECT has_any_column_privilege($1, 'cases', 'UPDATE')", role)
            assert await pool.fetchval("SELECT has_column_privilege($1, 'holds', 'state', 'UPDATE')", role)
            assert not await pool.fetchval("SELECT has_column_privilege($1, 'holds', 'case_id', 'UPDATE')", role)
            with pytest.raises(StoreError, match="runs the migrations"):
                await grant_app_role(conn, await conn.fetchval("SELECT current_user"))


async def test_the_application_role_checks_the_schema_but_cannot_migrate_it(dsn, pool) -> None:
    async with app_role(dsn) as (_, app_dsn):
        p = await open_pool(app_dsn, min_size=1, max_size=1)  # up to date: nothing to do
        await p.close()
        newest = migrate.migrations()[-1].version
        await pool.execute("DELETE FROM stopay_migrations WHERE version = $1", newest)
        with pytest.raises(SchemaBehind, match="owner"):
            await open_pool(app_dsn, min_size=1, max_size=1)


async def test_db_grant_cli_migrates_and_grants(server_dsn) -> None:
    from stopay.cli.main import main
    from stopay.store.embedded import with_database

    name = f"stopay_grant_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    owner_dsn = with_database(server_dsn, name)
    try:
        async with app_role(owner_dsn, grant=False) as (role, app_dsn):
            assert await asyncio.to_thread(main, ["db", "grant", "--dsn", owner_dsn, role]) == 0
            conn = await asyncpg.connect(app_dsn)
            try:
                assert await conn.fetchval("SELECT count(*) FROM cases") == 0
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute("DELETE FROM case_events")
            finally:
                await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_an_auditor_role_that_only_reads_the_chains_can_verify(dsn, pool) -> None:
    """docs/security.md: USAGE on the schema and SELECT on three tables are enough for audit verify."""
    from stopay.security.checkpoints import Signer, new_private_key
    from tests.integration.test_audit_chain import some_cases

    await some_cases(pool, 2)
    key = new_private_key()
    await checkpoints.write(pool, Signer(key))
    async with app_role(dsn, grant=False) as (role, auditor_dsn):
        await pool.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
        await pool.execute(f'GRANT SELECT ON case_events, case_chain_heads, audit_checkpoints TO "{role}"')
        auditor = await open_pool(auditor_dsn, min_size=1, max_size=1, run_migrations=False)
        try:
            report = await checkpoints.verify(auditor, [key.public_key()])
        finally:
            await auditor.close()
    # Per case: accepted, 2 freeze orders and their 2 stops queued, 2 retries.
    assert report.ok and report.chains.events == 2 * 7 and report.checkpoints_checked == 1

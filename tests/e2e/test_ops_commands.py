"""The commands an orchestrator runs: `stopay migrate` (and --check), `serve --no-migrate` that
refuses a schema other than its own, and `stopay health` with its exit statuses."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import asyncpg
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from stopay.store import embedded
from stopay.store.migrate import migrations


async def stopay(*args: str, **env: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "stopay.cli.main",
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_migrate_check_lists_what_is_missing_and_migrate_applies_it_once(server_dsn: str, tmp_path: Path) -> None:
    name = f"stopay_ops_{os.getpid()}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = embedded.with_database(server_dsn, name)
    try:
        known = [f"{m.version:04d}_{m.name}" for m in migrations()]
        status, out, _ = await stopay("migrate", "--check", STOPAY_DSN=dsn)
        assert status == 1 and out.splitlines() == [f"missing {n}" for n in known]
        # The DSN from a config file, as an orchestrator's job would give it.
        config = tmp_path / "stopay.toml"
        config.write_text(f'migrate_dsn = "{dsn}"\n', encoding="utf-8")
        status, out, err = await stopay("--config", str(config), "migrate")
        assert status == 0, err
        assert out.splitlines()[:-1] == [f"applied {n}" for n in known]
        status, out, _ = await stopay("migrate", "--dsn", dsn, "--check")
        assert status == 0 and out.splitlines() == [f"schema up to date at {known[-1][:4]}"]
        status, out, _ = await stopay("migrate", "--dsn", dsn)
        assert status == 0 and out.splitlines() == [f"schema up to date at {known[-1][:4]} (0 applied now)"]
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_serve_no_migrate_refuses_a_schema_newer_than_the_code(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO stopay_migrations (version, name, checksum) VALUES (999, 'from_the_future', 'x')"
        )
    finally:
        await conn.close()
    status, _, err = await stopay("serve", "--insecure", "--listen", "127.0.0.1:0", "--dsn", dsn, "--no-migrate")
    assert status == 2 and "schema is at version 999" in err
    status, _, err = await stopay("migrate", "--dsn", dsn, "--check")
    assert status == 2 and "schema is at version 999" in err


async def test_no_migrate_and_migrate_dsn_exclude_each_other(dsn: str) -> None:
    status, _, err = await stopay("serve", "--insecure", "--dsn", dsn, "--migrate-dsn", dsn, "--no-migrate")
    assert status == 2 and "--no-migrate and --migrate-dsn exclude each other" in err


async def test_health_exits_0_only_when_the_server_says_serving() -> None:
    server = grpc.aio.server()
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    address = f"127.0.0.1:{port}"
    try:
        await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        assert await stopay("health", "--server", address) == (0, f"{address}: SERVING\n", "")
        await servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        status, out, err = await stopay("health", "--server", address)
        assert (status, out, err) == (1, "", f"stopay health: {address}: NOT_SERVING\n")
        status, _, err = await stopay("health", "--server", address, "--service", "stopay.v1.Nothing")
        assert status == 1 and err == f"stopay health: {address}: no service 'stopay.v1.Nothing' is known there\n"
    finally:
        await server.stop(None)
    status, _, err = await stopay("health", "--server", address, "--timeout", "2")
    assert status == 3 and err.startswith(f"stopay health: {address}: no answer: UNAVAILABLE")
    assert len(err.splitlines()) == 1

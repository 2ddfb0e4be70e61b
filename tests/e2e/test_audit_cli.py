"""``stopay audit`` against a running service: the trail, an account, a report, the picture, the
verification of the event log (on the server and offline) and the exports."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import asyncpg

from stopay.v1 import station_pb2
from tests.conftest import EXAMPLES, db_now
from tests.entries import scenario_requests


async def stopay(*args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "stopay.cli.main", *args], capture_output=True, text=True, timeout=120
    )


async def seed_xue_case(make_app, channel_to):
    app = await make_app(EXAMPLES / "seed-xue.json")
    stub = channel_to(app)
    (request,) = scenario_requests(app, EXAMPLES / "seed-xue.json")
    reply = await stub.SubmitEntry(request)
    async for _ in stub.WatchCase(station_pb2.WatchCaseRequest(case_id=reply.case_id), timeout=30):
        pass
    return app, reply.case_id


async def test_audit_case_account_report_and_picture(make_app, channel_to, pool, tmp_path: Path) -> None:
    app, case_id = await seed_xue_case(make_app, channel_to)
    server = f"127.0.0.1:{app.port}"

    text = await stopay("audit", "case", case_id, "--server", server)
    assert text.returncode == 0, text.stderr
    for expected in (
        "money trail",
        "per level",
        "time from entry to hold",
        "timeline",
        "¥350,000.00",
        "¥210,000.00",
        "exit ATM ¥20,000.00",
        "王某某",
        "case accepted",
    ):
        assert expected in text.stdout, expected
    # How the victim confirmed the transfers, from the chain's first event: one line, under the figures.
    shown = await pool.fetchval(
        "SELECT detail -> 'confirmation' ->> 'shown_sha256' FROM case_events"
        " WHERE case_id = $1 AND kind = 'case.accepted'",
        uuid.UUID(case_id),
    )
    assert len(shown) == 64
    (line,) = [line for line in text.stdout.splitlines() if line.startswith("confirmed by the victim")]
    assert line.startswith("confirmed by the victim on the station's second screen at ") and " UTC; " in line
    assert line.endswith(f"SHA-256 of the text shown (docs/station.md): {shown}")

    picture = tmp_path / "seed-xue.svg"
    svg = await stopay("audit", "case", case_id, "--format", "svg", "--output", str(picture), "--server", server)
    assert svg.returncode == 0, svg.stderr
    root = ET.parse(picture).getroot()  # opens as a valid SVG file
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "¥350,000.00" in texts and "¥210,000.00" in texts and "ATM" in texts

    dot = await stopay("audit", "case", case_id, "--format", "dot", "--server", server)
    assert dot.returncode == 0 and dot.stdout.startswith("digraph")

    account = await stopay("audit", "account", "ABC:6228480000002222222", "--json", "--server", server)
    history = json.loads(account.stdout)
    # The case's freeze order there, and the stop beside it, which holds the money.
    orders = {o["kind"]: o for o in history["orders"] if o["case_id"] == case_id}
    assert len(history["orders"]) == 2 and set(orders) == {"ORDER_KIND_FREEZE", "ORDER_KIND_STOP"}
    assert orders["ORDER_KIND_STOP"]["held_minor"] == "21000000"
    assert orders["ORDER_KIND_FREEZE"].get("held_minor", "0") == "0"

    now = await db_now(pool)  # cases are stamped by the database's clock
    report = await stopay(
        "audit",
        "report",
        "--since",
        (now - timedelta(hours=1)).isoformat(),
        "--until",
        (now + timedelta(hours=1)).isoformat(),
        "--json",
        "--server",
        server,
    )
    figures = json.loads(report.stdout)
    assert (figures["cases"], figures["reported_minor"], figures["held_minor"], figures["exited_minor"]) == (
        1,
        "58000000",
        "56000000",
        "2000000",
    )
    assert figures["holds"] == 2 and int(figures["p50_ms"]) > 0 and int(figures["p99_ms"]) >= int(figures["p50_ms"])
    people = await stopay(
        "audit",
        "report",
        "--since",
        (now - timedelta(hours=1)).isoformat(),
        "--until",
        (now + timedelta(hours=1)).isoformat(),
        "--server",
        server,
    )
    assert "entry to hold p90" in people.stdout and "¥580,000.00" in people.stdout


async def test_verify_names_an_edited_event_and_exports_carry_the_chain(
    make_app, channel_to, dsn, tmp_path: Path
) -> None:
    app, case_id = await seed_xue_case(make_app, channel_to)
    server = f"127.0.0.1:{app.port}"
    ok = await stopay("audit", "verify", "--server", server)
    assert ok.returncode == 0 and ok.stdout.startswith("ok:"), ok.stdout + ok.stderr
    offline = await stopay("audit", "verify", "--dsn", dsn, "--json")
    assert json.loads(offline.stdout)["ok"] is True

    lines = (await stopay("audit", "export", "--case", case_id, "--server", server)).stdout.splitlines()
    events = [json.loads(line) for line in lines]
    seqs = [int(e["seq"]) for e in events]
    assert seqs == sorted(seqs) and len(events) >= 10
    assert all(len(e["hash"]) == 64 for e in events)
    assert all(later["prev_hash"] == earlier["hash"] for earlier, later in itertools.pairwise(events))
    table = list(
        csv.DictReader(
            io.StringIO(
                (await stopay("audit", "export", "--format", "csv", "--case", case_id, "--server", server)).stdout
            )
        )
    )
    assert [int(r["seq"]) for r in table] == [int(e["seq"]) for e in events]

    # A superuser edits one event directly in the database.
    victim = events[3]
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute("ALTER TABLE case_events DISABLE TRIGGER case_events_append_only")
        await admin.execute(
            "UPDATE case_events SET detail = '{\"held_minor\": 1}' WHERE case_id = $1 AND seq = $2",
            __import__("uuid").UUID(case_id),
            int(victim["seq"]),
        )
        await admin.execute("ALTER TABLE case_events ENABLE TRIGGER case_events_append_only")
    finally:
        await admin.close()
    for args in (("--server", server), ("--dsn", dsn)):
        broken = await stopay("audit", "verify", *args)
        assert broken.returncode == 1, broken.stdout + broken.stderr
        assert f"case {case_id} event {victim['seq']}" in broken.stdout


async def test_verify_offline_on_a_database_that_is_not_stopays_fails_plainly(server_dsn) -> None:
    import uuid as _uuid

    from stopay.store.embedded import with_database

    name = f"not_stopay_{_uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        result = await stopay("audit", "verify", "--dsn", with_database(server_dsn, name))
        assert result.returncode == 2 and "Traceback" not in result.stderr and "could not verify" in result.stderr
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()

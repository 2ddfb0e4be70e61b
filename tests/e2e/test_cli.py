"""The ``stopay`` command as people and programs use it: the station client and the demo."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from google.protobuf import json_format

from tests.conftest import EXAMPLES
from tests.entries import scenario_requests, simple_request


async def stopay(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "stopay.cli.main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_entry_submit_watch_and_case_show(make_app, tmp_path: Path) -> None:
    app = await make_app(EXAMPLES / "seed-chen.json")
    (request,) = scenario_requests(app, EXAMPLES / "seed-chen.json")
    entry = tmp_path / "entry.json"
    entry.write_text(json_format.MessageToJson(request, preserving_proto_field_name=True), encoding="utf-8")
    server = f"127.0.0.1:{app.port}"

    result = await stopay("entry", "submit", str(entry), "--watch", "--server", server)
    assert result.returncode == 0, result.stderr
    case_id = result.stdout.split()[1]
    assert "accepted" in result.stdout.splitlines()[0]
    assert "held: ¥110,000.00 held" in result.stdout
    assert "(settled)" in result.stdout

    again = await stopay("entry", "submit", str(entry), "--json", "--server", server)
    assert json.loads(again.stdout) == {"case_id": case_id, "duplicate": True, "linked_cases": []}

    shown = await stopay("case", "show", case_id, "--json", "--server", server)
    case = json.loads(shown.stdout)
    assert case["held_minor"] == "11000000" and case["settled"] is True
    # The stop holds the money; its freeze order found it already asked for.
    statuses = {o["kind"]: o["status"] for o in case["orders"]}
    assert statuses == {"ORDER_KIND_STOP": "ORDER_STATUS_HELD", "ORDER_KIND_FREEZE": "ORDER_STATUS_MOVED_ON"}

    listed = await stopay("case", "list", "--server", server)
    assert case_id in listed.stdout


async def test_entry_submit_names_each_bad_field(make_app, tmp_path: Path) -> None:
    app = await make_app()
    request = simple_request(("icbc", "62220202", 0))
    entry = tmp_path / "bad.json"
    entry.write_text(json_format.MessageToJson(request), encoding="utf-8")
    result = await stopay("entry", "submit", str(entry), "--server", f"127.0.0.1:{app.port}")
    assert result.returncode == 1
    assert "INVALID_ARGUMENT" in result.stderr
    assert "transfers[0].payee.bank_code:" in result.stderr
    assert "transfers[0].amount_minor:" in result.stderr


async def test_entry_submit_reports_a_malformed_file(tmp_path: Path) -> None:
    entry = tmp_path / "broken.json"
    entry.write_text('{"entry_id": 5, "nonsense": true}', encoding="utf-8")
    result = await stopay("entry", "submit", str(entry))
    assert result.returncode == 2
    assert "nonsense" in result.stderr or "entry_id" in result.stderr


async def test_demo_runs_the_seed_cases_and_matches_their_known_answers() -> None:
    result = await stopay("demo")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "MISMATCH" not in result.stdout
    assert "held at ICBC:6222020200001111111: expected ¥350,000.00, got ¥350,000.00  ok" in result.stdout
    assert "held at ABC:6228480000002222222: expected ¥210,000.00, got ¥210,000.00  ok" in result.stdout
    assert "traced into exits: expected ¥20,000.00, got ¥20,000.00  ok" in result.stdout
    assert "held at BOC:6216610000000002: expected ¥110,000.00, got ¥110,000.00  ok" in result.stdout
    assert result.stdout.count("  ok") == 5
    assert "plain-text gRPC on 127.0.0.1" in result.stdout  # and it says so


async def test_serve_reports_configuration_errors_without_a_traceback(tmp_path: Path) -> None:
    missing = await stopay(
        "serve", "--insecure", "--data-dir", str(tmp_path / "d"), "--bank-network", str(tmp_path / "nope.json")
    )
    assert missing.returncode == 2 and "nope.json" in missing.stderr and "Traceback" not in missing.stderr
    unknown = await stopay("serve", "--insecure", "--data-dir", str(tmp_path / "d"), "--bank", "ZZB=carrier-pigeon")
    assert unknown.returncode == 2 and "carrier-pigeon" in unknown.stderr and "Traceback" not in unknown.stderr
    bad = await stopay("serve", "--insecure", "--rule", "poison")
    assert bad.returncode == 2 and "--rule" in bad.stderr
    deep = await stopay("serve", "--insecure", "--max-depth", "51")
    assert deep.returncode == 2 and "--max-depth" in deep.stderr and "1 to 50" in deep.stderr


async def test_watch_json_is_one_update_per_line(make_app, tmp_path: Path) -> None:
    app = await make_app(EXAMPLES / "seed-xue.json")
    (request,) = scenario_requests(app, EXAMPLES / "seed-xue.json")
    entry = tmp_path / "entry.json"
    entry.write_text(json_format.MessageToJson(request), encoding="utf-8")
    result = await stopay("entry", "submit", str(entry), "--watch", "--json", "--server", f"127.0.0.1:{app.port}")
    assert result.returncode == 0, result.stderr
    updates = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(updates) >= 2 and updates[-1]["case"]["settled"] is True
    assert int(updates[-1]["case"]["held_minor"]) == 56000000

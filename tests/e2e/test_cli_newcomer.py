"""A newcomer's first hour with the ``stopay`` command, as real processes: start-up mistakes, ports,
exit statuses, ``--output`` files, Ctrl-C, broken pipes, a second serve on one data directory, paging,
amounts, and the README's walkthrough. No traceback anywhere; each failure is one line and a status
from the table in docs/cli.md."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from google.protobuf import json_format

from stopay.cli import main as cli_main
from stopay.store.embedded import with_database
from stopay.v1 import station_pb2
from tests.conftest import EXAMPLES, ROOT
from tests.e2e.test_blackbox import Served
from tests.entries import scenario_requests

STOPAY = Path(sys.executable).with_name("stopay")  # the console script of this environment
COMMAND = [str(STOPAY)] if STOPAY.exists() else [sys.executable, "-m", "stopay.cli.main"]
ENV = {k: v for k, v in os.environ.items() if not k.startswith("STOPAY_")}
# The README's walkthrough: `stopay entry submit` and these arguments (then --watch).
WALKTHROUGH = (
    "stopay/examples/entry-seed-xue.json",
    "--new-id",
    "--transferred-ago",
    "15m",
    "--confirmed-by",
    "signed-form",
    "--reference",
    "YZ2021-000123-F1",
)
UNKNOWN_CASE = "00000000-0000-0000-0000-000000000000"


async def stopay(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [*COMMAND, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or ENV,
    )


def failed(result: subprocess.CompletedProcess[str], status: int, *words: str) -> None:
    """The command failed with ``status``, saying so in one line (a usage error: usage, then one line)."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == status, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if not line.startswith(("usage:", " ", "request id "))]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- defect 4: start-up errors ------------------------------------------------------------------


async def test_serve_start_up_mistakes_are_one_line_each(server_dsn: str, dsn: str, tmp_path: Path) -> None:
    missing = await stopay("serve", "--insecure", "--dsn", with_database(server_dsn, "no_such_stopay_db"))
    failed(missing, 2, "no_such_stopay_db", "does not exist")

    down = await stopay("serve", "--insecure", "--dsn", f"postgresql://postgres@127.0.0.1:{free_port()}/postgres")
    failed(down, 3, "cannot reach PostgreSQL")

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = await stopay("serve", "--insecure", "--dsn", dsn, "--listen", f"127.0.0.1:{port}")
        failed(busy, 3, f"127.0.0.1:{port}", "in use")
        sim = await stopay(
            "bank-sim", "--insecure", "--bank-network", str(EXAMPLES / "seed-xue.json"), "--listen", f"127.0.0.1:{port}"
        )
        failed(sim, 3, "in use")

    not_a_directory = tmp_path / "pgdata"
    not_a_directory.write_text("", encoding="utf-8")
    broken = await stopay("serve", "--insecure", "--data-dir", str(not_a_directory), "--listen", "127.0.0.1:0")
    failed(broken, 2, "embedded PostgreSQL", "did not start")

    debug = await stopay(
        "--log-level", "debug", "serve", "--insecure", "--dsn", with_database(server_dsn, "no_such_stopay_db")
    )
    assert debug.returncode == 2 and "Traceback" in debug.stderr  # only when asked for


async def test_ctrl_c_while_watching_says_how_to_reattach(make_app, tmp_path: Path) -> None:
    slow = json.loads((EXAMPLES / "seed-chen.json").read_text(encoding="utf-8"))
    for bank in slow["banks"]:
        bank["latency_ms"] = 600_000  # the case stays open while we watch
    network = tmp_path / "slow.json"
    network.write_text(json.dumps(slow, ensure_ascii=False), encoding="utf-8")
    app = await make_app(network)
    (request,) = scenario_requests(app, network)
    entry = tmp_path / "entry.json"
    entry.write_text(json_format.MessageToJson(request), encoding="utf-8")
    proc = subprocess.Popen(
        [*COMMAND, "entry", "submit", str(entry), "--watch", "--server", f"127.0.0.1:{app.port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        first = await asyncio.to_thread(proc.stdout.readline)  # type: ignore[union-attr]
        case_id = first.split()[1]
        await asyncio.to_thread(proc.stdout.readline)  # type: ignore[union-attr]  # watching: an event is in
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.to_thread(proc.communicate, timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    result = subprocess.CompletedProcess(proc.args, proc.returncode, "", err)
    failed(result, 130, f"stopay case watch {case_id}")


async def test_a_closed_pipe_stops_the_export_quietly(make_app, channel_to) -> None:
    app = await make_app(EXAMPLES / "seed-chen.json")
    (request,) = scenario_requests(app, EXAMPLES / "seed-chen.json")
    await channel_to(app).SubmitEntry(request)
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line, as `| head -1` is after its line
    try:
        result = await asyncio.to_thread(
            subprocess.run,
            [*COMMAND, "audit", "export", "--server", f"127.0.0.1:{app.port}"],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            env=ENV,
        )
    finally:
        os.close(write)
    assert result.returncode == 141, result.stderr
    assert result.stderr == ""

    shell = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-c", f"{' '.join(COMMAND)} audit export --server 127.0.0.1:{app.port} | head -1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=ENV,
    )
    assert len(shell.stdout.splitlines()) == 1 and json.loads(shell.stdout)["case_id"]
    assert "Traceback" not in shell.stderr and "Broken pipe" not in shell.stderr


# ---- defect 5: --output ------------------------------------------------------------------------------


async def test_a_failed_call_leaves_a_kept_output_file_as_it_was(make_app, tmp_path: Path) -> None:
    app = await make_app()
    kept = tmp_path / "kept-export.jsonl"
    kept.write_text('{"an": "auditor\'s kept export"}\n', encoding="utf-8")
    before = kept.read_bytes()

    not_found = await stopay("audit", "case", UNKNOWN_CASE, "--output", str(kept), "--server", f"127.0.0.1:{app.port}")
    failed(not_found, 1, "NOT_FOUND")
    down = await stopay("audit", "export", "--output", str(kept), "--server", f"127.0.0.1:{free_port()}")
    failed(down, 3, "UNAVAILABLE")
    assert kept.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept-export.jsonl"]  # no temporary file left

    done = await stopay("audit", "export", "--output", str(kept), "--server", f"127.0.0.1:{app.port}")
    assert done.returncode == 0, done.stderr
    assert kept.read_bytes() == b""  # replaced: no events yet
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept-export.jsonl"]


# ---- defect 6: ports -------------------------------------------------------------------------------


async def test_every_host_port_flag_needs_a_port_in_range(tmp_path: Path) -> None:
    network = str(EXAMPLES / "seed-xue.json")
    for args, flag in (
        (("serve", "--insecure", "--listen", "127.0.0.1:99999"), "--listen"),
        (("serve", "--insecure", "--listen", "127.0.0.1"), "--listen"),
        (("case", "list", "--server", "127.0.0.1"), "--server"),
        (("case", "list", "--server", "127.0.0.1:0"), "--server"),
        (("audit", "verify", "--server", "127.0.0.1:70000"), "--server"),
        (("hold", "list", "c", "--server", "::1:50051"), "--server"),
        (("bank-sim", "--insecure", "--bank-network", network, "--listen", "127.0.0.1"), "--listen"),
        (("bank-sim", "--insecure", "--bank-network", network, "--callback", "127.0.0.1"), "--callback"),
        (("serve", "--insecure", "--adapter", "grpc:target=127.0.0.1;banks=ICBC"), "--adapter"),
    ):
        failed(await stopay(*args), 2, flag)
    from_env = await stopay("case", "list", env={**ENV, "STOPAY_SERVER": "127.0.0.1"})
    failed(from_env, 2, "--server")


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
async def test_ipv6_addresses_in_brackets_work(tmp_path: Path, dsn: str) -> None:
    served = Served(tmp_path, "--dsn", dsn, "--listen", "[::1]:0")
    try:
        listed = await stopay("case", "list", "--server", f"[::1]:{served.port}")
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.strip() == "no cases"
    finally:
        await served.stop()


# ---- defect 7: one exit-status table -----------------------------------------------------------------


async def test_the_exit_status_table_row_by_row(make_app, channel_to, tmp_path: Path) -> None:
    app = await make_app(EXAMPLES / "seed-chen.json")
    (request,) = scenario_requests(app, EXAMPLES / "seed-chen.json")
    reply = await channel_to(app).SubmitEntry(request)
    up, down = f"127.0.0.1:{app.port}", f"127.0.0.1:{free_port()}"
    bad = tmp_path / "bad.json"
    bad.write_text('{"entry_id": ', encoding="utf-8")
    hold = ("--officer", "O1", "--reason", "r")

    # 0: done.
    for args in (
        ("case", "show", reply.case_id),
        ("case", "list"),
        ("hold", "list", reply.case_id),
        ("audit", "verify"),
        ("audit", "case", reply.case_id),
    ):
        result = await stopay(*args, "--server", up)
        assert result.returncode == 0 and "Traceback" not in result.stderr, (args, result.stderr)
    # 1: the service refused the call, station, hold and audit commands alike.
    for args, code in (
        (("case", "show", UNKNOWN_CASE), "NOT_FOUND"),
        (("order", "retry", UNKNOWN_CASE, "--operator", "op"), "order retry"),
        (("hold", "renew", UNKNOWN_CASE, "BOC:6216610000000002", *hold), "NOT_FOUND"),
        (("audit", "case", UNKNOWN_CASE), "NOT_FOUND"),
        (("audit", "case", "not-a-uuid"), "INVALID_ARGUMENT"),
    ):
        failed(await stopay(*args, "--server", up), 1, code)
    # 2: usage or a local error.
    failed(await stopay("case", "show"), 2, "case_id")
    failed(await stopay("entry", "submit", str(tmp_path / "absent.json"), "--server", up), 2, "absent.json")
    failed(await stopay("entry", "submit", str(bad), "--server", up), 2, "bad.json")
    # An entry that does not say how the victim confirmed it is refused before anything is sent.
    unconfirmed = tmp_path / "unconfirmed.json"
    without = station_pb2.SubmitEntryRequest()
    without.CopyFrom(request)
    without.ClearField("confirmation")
    unconfirmed.write_text(json_format.MessageToJson(without), encoding="utf-8")
    failed(await stopay("entry", "submit", str(unconfirmed), "--server", up), 2, "--confirmed-by signed-form")
    failed(
        await stopay("entry", "submit", str(unconfirmed), "--confirmed-by", "signed-form", "--server", up),
        2,
        "needs --reference: the signed form's number",
    )
    failed(await stopay("entry", "submit", str(unconfirmed), "--reference", "F-1", "--server", up), 2, "--reference")
    shipped = str(EXAMPLES / "entry-seed-xue.json")
    failed(await stopay("entry", "submit", shipped, "--transferred-ago", "15m", "--server", up), 2, "--transferred-ago")
    failed(
        await stopay(
            "hold",
            "formalize",
            reply.case_id,
            "BOC:6216610000000002",
            "--document",
            "D",
            "--approver",
            "A",
            "--amount",
            "1.234",
            "--scope",
            "s",
            *hold,
            "--server",
            up,
        ),
        2,
        "--amount",
    )
    # 3: the service cannot be reached, whichever command.
    entry = tmp_path / "entry.json"
    entry.write_text(json_format.MessageToJson(request), encoding="utf-8")
    for args in (
        ("entry", "submit", str(entry)),
        ("case", "show", reply.case_id),
        ("case", "list"),
        ("case", "watch", reply.case_id),
        ("order", "retry", UNKNOWN_CASE, "--operator", "op"),
        ("hold", "list", reply.case_id),
        ("hold", "return", "BOC:6216610000000002", *hold),
        ("audit", "case", reply.case_id),
        ("audit", "report", "--since", "2026-01-01T00:00:00+08:00", "--until", "2026-02-01T00:00:00+08:00"),
        ("audit", "export"),
        ("audit", "verify"),
    ):
        failed(await stopay(*args, "--server", down), 3, "UNAVAILABLE")


# ---- defect 11: one serve per embedded data directory ---------------------------------------------------


async def test_a_second_serve_on_the_same_data_directory_is_refused(tmp_path: Path) -> None:
    # Not under pytest's own temporary directory: run as root, the embedded PostgreSQL runs as
    # another user, and pytest takes that user's access to its directory back at each session start.
    home = Path(tempfile.mkdtemp(prefix="stopay-test-"))
    data_dir = home / "pgdata"
    first = Served(tmp_path, "--data-dir", str(data_dir))
    try:
        second = await stopay("serve", "--insecure", "--data-dir", str(data_dir), "--listen", "127.0.0.1:0", timeout=60)
        failed(second, 3, str(data_dir), "in use", f"pid {first.proc.pid}")
        cases = await first.stub.ListCases(station_pb2.ListCasesRequest(), timeout=10)  # the first one is unharmed
        assert list(cases.cases) == []
        # Killed, the first one leaves its PostgreSQL running: the next serve takes it over, and stops it.
        await first.stop(signal.SIGKILL)
        assert (data_dir / "postmaster.pid").exists()
        again = Served(tmp_path, "--data-dir", str(data_dir))
        cases = await again.stub.ListCases(station_pb2.ListCasesRequest(), timeout=10)
        assert list(cases.cases) == []
        assert await again.stop() == 0
        assert not (data_dir / "postmaster.pid").exists()
    finally:
        if first.proc.poll() is None:
            await first.stop()
        shutil.rmtree(home, ignore_errors=True)


# ---- also expected: case watch, paging, amounts, the walkthrough -------------------------------------------


async def test_case_watch_reattaches_and_case_list_pages_on_in_yuan(make_app, channel_to) -> None:
    app = await make_app(EXAMPLES / "seed-chen.json")
    stub = channel_to(app)
    ids = []
    for _ in range(3):
        (request,) = scenario_requests(app, EXAMPLES / "seed-chen.json")
        ids.append((await stub.SubmitEntry(request)).case_id)
    server = f"127.0.0.1:{app.port}"

    watched = await stopay("case", "watch", ids[0], "--server", server)
    assert watched.returncode == 0, watched.stderr
    assert "case accepted" in watched.stdout and f"case {ids[0]}  (settled)" in watched.stdout

    first = await stopay("case", "list", "--limit", "2", "--server", server)
    assert first.returncode == 0, first.stderr
    assert "¥110,000.00" in first.stdout and "11000000" not in first.stdout
    token = re.search(r"next page: --page-token (\S+)", first.stdout).group(1)  # type: ignore[union-attr]
    second = await stopay("case", "list", "--limit", "2", "--page-token", token, "--server", server)
    assert second.returncode == 0, second.stderr
    shown = [
        line.split()[0] for line in (first.stdout + second.stdout).splitlines() if line[:8] in {i[:8] for i in ids}
    ]
    assert sorted(shown) == sorted(ids) and "next page" not in second.stdout
    as_json = json.loads((await stopay("case", "list", "--limit", "2", "--json", "--server", server)).stdout)
    assert as_json["next_page_token"] == token
    failed(await stopay("case", "list", "--limit", "0", "--server", server), 2, "--limit")


def test_amount_flags_take_yuan_and_the_fen_variable_still_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    from stopay.cli.serve import settings_from_args

    for name in ("STOPAY_MIN_AMOUNT", "STOPAY_MIN_AMOUNT_YUAN"):
        monkeypatch.delenv(name, raising=False)

    def min_amount(*args: str) -> int:
        return settings_from_args(cli_main.build_parser().parse_args(["serve", "--insecure", *args])).limits.min_amount

    assert min_amount() == 10000  # ¥100
    assert min_amount("--min-amount", "1,234.56") == 123456
    assert min_amount("--min-amount", "250.5") == 25050
    monkeypatch.setenv("STOPAY_MIN_AMOUNT", "5000")  # in fen, as it always was
    assert min_amount() == 5000
    monkeypatch.setenv("STOPAY_MIN_AMOUNT_YUAN", "80")
    assert min_amount() == 8000
    assert min_amount("--min-amount", "1") == 100
    formalize = cli_main.build_parser().parse_args(
        [
            "hold",
            "formalize",
            "c",
            "ICBC:622202",
            "--document",
            "D",
            "--approver",
            "A",
            "--amount",
            "1234.56",
            "--scope",
            "s",
            "--officer",
            "O",
            "--reason",
            "r",
        ]
    )
    assert formalize.amount == 123456


async def test_min_amount_in_yuan_refuses_fractions_of_a_fen() -> None:
    failed(await stopay("serve", "--insecure", "--min-amount", "99.999"), 2, "--min-amount", "yuan", "two decimals")
    failed(await stopay("serve", "--insecure", "--min-amount", "1e3"), 2, "--min-amount", "yuan")
    fen = await stopay("serve", "--insecure", env={**ENV, "STOPAY_MIN_AMOUNT": "12.5"})
    failed(fen, 2, "STOPAY_MIN_AMOUNT", "fen")
    listed = await stopay(
        "case", "list", "--server", f"127.0.0.1:{free_port()}", env={**ENV, "STOPAY_MIN_AMOUNT": "12.5"}
    )  # other commands do not care
    failed(listed, 3, "UNAVAILABLE")


def test_the_example_entry_is_the_readme_s() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shipped = json.loads((EXAMPLES / "entry-seed-xue.json").read_text(encoding="utf-8"))
    block = re.search(r"```json\n(\{\n  \"entry_id\".*?)```", readme, re.S).group(1)  # type: ignore[union-attr]
    assert json.loads(block) == shipped
    json_format.ParseDict(shipped, station_pb2.SubmitEntryRequest())
    walkthrough = (
        "stopay entry submit stopay/examples/entry-seed-xue.json --new-id --transferred-ago 15m \\\n"
        "    --confirmed-by signed-form --reference YZ2021-000123-F1 --watch"
    )
    assert f"```sh\n{walkthrough}\n```" in readme
    assert " ".join(WALKTHROUGH) in walkthrough.replace(" \\\n   ", "")


async def test_the_readme_walkthrough_as_written(tmp_path: Path, dsn: str) -> None:
    served = Served(tmp_path, "--dsn", dsn, "--bank-network", "stopay/examples/seed-xue.json")
    try:
        server = ("--server", f"127.0.0.1:{served.port}")
        walk = await asyncio.to_thread(
            subprocess.run,
            [
                *COMMAND,
                "entry",
                "submit",
                *WALKTHROUGH,
                "--watch",
                *server,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env=ENV,
            cwd=ROOT,
        )
        assert walk.returncode == 0, walk.stderr
        assert "Traceback" not in walk.stderr and walk.stderr.startswith("entry_id ")
        for held in (
            "ICBC:6222020200001111111  stopped",
            "¥350,000.00 held",
            "¥210,000.00 held",
            "¥20,000.00 left the banking network (ATM)",
        ):
            assert held in walk.stdout, held
        again = await asyncio.to_thread(
            subprocess.run,
            [
                *COMMAND,
                "entry",
                "submit",
                *WALKTHROUGH,
                *server,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env=ENV,
            cwd=ROOT,
        )
        assert again.returncode == 0 and "accepted" in again.stdout and "duplicate" not in again.stdout
    finally:
        await served.stop()


# ---- the transcript ----------------------------------------------------------------------------------------


async def test_a_newcomer_s_transcript_has_no_traceback(tmp_path: Path, dsn: str, server_dsn: str) -> None:
    """serve, submit, watch, show, list, audit, hold, and each mistake above, as one session."""
    transcript: list[subprocess.CompletedProcess[str]] = []

    async def run(*args: str, status: int = 0) -> subprocess.CompletedProcess[str]:
        result = await stopay(*args)
        transcript.append(result)
        assert result.returncode == status, (args, result.returncode, result.stderr)
        return result

    served = Served(tmp_path, "--dsn", dsn, "--bank-network", str(EXAMPLES / "seed-xue.json"))
    try:
        server = ("--server", f"127.0.0.1:{served.port}")
        example = str(EXAMPLES / "entry-seed-xue.json")
        submitted = await run("entry", "submit", example, *WALKTHROUGH[1:], "--watch", *server)
        case_id = submitted.stdout.split()[1]
        await run("case", "watch", case_id, *server)
        await run("case", "show", case_id, *server)
        await run("case", "list", *server)
        await run("audit", "case", case_id, *server)
        await run("audit", "account", "ICBC:6222020200001111111", *server)
        await run("audit", "verify", *server)
        await run("audit", "export", "--output", str(tmp_path / "export.jsonl"), *server)
        await run("hold", "list", case_id, *server)
        await run(
            "hold", "renew", case_id, "ICBC:6222020200001111111", "--officer", "O1", "--reason", "more time", *server
        )
        await run(
            "hold",
            "formalize",
            case_id,
            "ICBC:6222020200001111111",
            "--document",
            "D-1",
            "--approver",
            "A",
            "--amount",
            "350,000.00",
            "--scope",
            "the account",
            "--officer",
            "O1",
            "--reason",
            "court order",
            *server,
        )
        # The mistakes.
        await run("serve", "--insecure", "--dsn", with_database(server_dsn, "no_such_stopay_db"), status=2)
        await run("serve", "--insecure", "--dsn", f"postgresql://postgres@127.0.0.1:{free_port()}/x", status=3)
        await run("serve", "--insecure", "--dsn", dsn, "--listen", f"127.0.0.1:{served.port}", status=3)
        await run("serve", "--insecure", "--listen", "127.0.0.1:99999", status=2)
        await run("case", "show", case_id, "--server", "127.0.0.1", status=2)
        await run("case", "show", UNKNOWN_CASE, *server, status=1)
        await run("case", "show", case_id, "--server", f"127.0.0.1:{free_port()}", status=3)
        await run("audit", "case", UNKNOWN_CASE, "--output", str(tmp_path / "export.jsonl"), *server, status=1)
        await run("entry", "submit", str(tmp_path / "nothing-here.json"), *server, status=2)
        piped = await asyncio.to_thread(
            subprocess.run,
            ["bash", "-c", f"{' '.join(COMMAND)} audit export --server {server[1]} | head -1"],
            capture_output=True,
            text=True,
            timeout=60,
            env=ENV,
        )
        transcript.append(piped)
        assert json.loads(piped.stdout)["case_id"] == case_id and piped.stderr == ""
    finally:
        assert await served.stop() == 0
    assert json.loads((tmp_path / "export.jsonl").read_text(encoding="utf-8").splitlines()[0])["case_id"] == case_id
    assert len(transcript) == 21
    assert "Traceback" not in (tmp_path / "serve.log").read_text(encoding="utf-8")
    assert not [r.args for r in transcript if "Traceback" in r.stderr + r.stdout]

"""Mutual TLS between processes, as the README runs it: a development CA from ``stopay certs``, a
TLS ``serve``, a station submitting over TLS, and bank-sim behind the ``grpc`` adapter, calling back
for each bank under its own certificate."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import grpc
from google.protobuf import json_format

from stopay.api.tls import TlsFiles, channel_credentials
from stopay.v1 import station_pb2, station_pb2_grpc
from tests.conftest import EXAMPLES, ROOT, eventually
from tests.e2e.test_blackbox import Served
from tests.e2e.test_cli_newcomer import COMMAND, ENV
from tests.entries import confirm


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *args], capture_output=True, text=True, timeout=120, env=ENV, cwd=cwd)


def tls(pki: Path, who: str) -> tuple[str, ...]:
    return (
        "--tls-ca",
        str(pki / "ca.pem"),
        "--tls-cert",
        str(pki / f"{who}.pem"),
        "--tls-key",
        str(pki / f"{who}.key"),
    )


def test_the_readme_shows_the_tls_walkthrough() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for line in (
        "stopay certs init pki",
        "stopay certs issue pki station CQ-YUZHONG-01",
        "stopay serve --tls-ca pki/ca.pem --tls-cert pki/server.pem --tls-key pki/server.key",
    ):
        assert line in readme, line


async def test_the_readme_tls_walkthrough_as_written(tmp_path: Path, dsn: str) -> None:
    pki = tmp_path / "pki"
    assert run("certs", "init", str(pki)).returncode == 0
    assert run("certs", "issue", str(pki), "station", "CQ-YUZHONG-01").returncode == 0
    served = Served(
        tmp_path,
        "--dsn",
        dsn,
        "--bank-network",
        "stopay/examples/seed-xue.json",
        *tls(pki, "server"),
        command=("serve",),
    )
    try:
        server = ("--server", f"127.0.0.1:{served.port}")
        walk = await asyncio.to_thread(
            run,
            "entry",
            "submit",
            "stopay/examples/entry-seed-xue.json",
            "--new-id",
            "--transferred-ago",
            "15m",
            "--confirmed-by",
            "signed-form",
            "--reference",
            "YZ2021-000123-F1",
            "--watch",
            *server,
            *tls(pki, "station-CQ-YUZHONG-01"),
        )
        assert walk.returncode == 0, walk.stderr
        assert "¥350,000.00 held" in walk.stdout
        # The same without a certificate gets nowhere: the server speaks TLS only.
        bare = await asyncio.to_thread(run, "case", "list", *server)
        assert bare.returncode == 3, bare.stderr
        # Another station's certificate does not see the case.
        assert run("certs", "issue", str(pki), "station", "CQ-JIANGBEI-02").returncode == 0
        other = await asyncio.to_thread(run, "case", "list", "--json", *server, *tls(pki, "station-CQ-JIANGBEI-02"))
        assert other.returncode == 0, other.stderr
        assert json.loads(other.stdout).get("cases", []) == []
        log = (tmp_path / "serve.log").read_text(encoding="utf-8")
        assert "(mutual TLS)" in log
    finally:
        await served.stop()


async def test_bank_sim_and_the_grpc_adapter_speak_mutual_tls(tmp_path: Path, dsn: str) -> None:
    pki = tmp_path / "pki"
    assert run("certs", "init", str(pki)).returncode == 0
    for role, name in (("bank", "CBK"), ("station", "S1")):
        assert run("certs", "issue", str(pki), role, name).returncode == 0
    epoch = datetime.now(UTC).replace(microsecond=0)
    data = {
        "format": "stopay-bank-network/1",
        "name": "tls",
        "currency": "CNY",
        "epoch": epoch.isoformat(),
        "banks": [{"code": "VBK", "name": "victim's"}, {"code": "CBK", "name": "callback", "mode": "callback"}],
        "accounts": [
            {"id": "VBK:6200000000000001", "holder": "受害人", "opening_balance": 10**9},
            {"id": "CBK:6200000000000002", "holder": "某甲", "opening_balance": 0},
        ],
        "ledger": [
            {
                "seq": 1,
                "at": -600,
                "from": "VBK:6200000000000001",
                "to": "CBK:6200000000000002",
                "amount": 500000,
                "txn_id": "T1",
            }
        ],
    }
    network = tmp_path / "network.json"
    network.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    api_port = _free_port()
    sim = Served(
        tmp_path,
        "--bank-network",
        str(network),
        "--callback",
        f"127.0.0.1:{api_port}",
        *tls(pki, "server"),
        command=("bank-sim",),
    )
    served = Served(
        tmp_path,
        "--dsn",
        dsn,
        "--listen",
        f"127.0.0.1:{api_port}",
        *tls(pki, "server"),
        "--adapter",
        f"grpc:target=127.0.0.1:{sim.port};banks=CBK",
        command=("serve",),
    )
    channel = grpc.aio.secure_channel(
        f"127.0.0.1:{api_port}",
        channel_credentials(TlsFiles(pki / "ca.pem", pki / "station-S1.pem", pki / "station-S1.key")),
    )
    try:
        stub = station_pb2_grpc.StationServiceStub(channel)
        request = json.loads((EXAMPLES / "entry-seed-xue.json").read_text(encoding="utf-8"))
        request.update(
            entry_id=f"tls-{epoch.timestamp():.0f}",
            station_id="S1",
            transfers=[
                {
                    "payer": {"bank_code": "VBK", "number": "6200000000000001", "holder_name": "受害人"},
                    "payee": {"bank_code": "CBK", "number": "6200000000000002", "holder_name": "某甲"},
                    "amount_minor": 500000,
                    "txn_id": "T1",
                    "transferred_at": datetime.fromtimestamp(epoch.timestamp() - 600, UTC).isoformat(),
                }
            ],
        )
        reply = await stub.SubmitEntry(
            confirm(json_format.ParseDict(request, station_pb2.SubmitEntryRequest())), timeout=10
        )

        async def held() -> bool:
            case = await stub.GetCase(station_pb2.GetCaseRequest(case_id=reply.case_id), timeout=10)
            return case.held_minor == 500000

        await eventually(held, timeout_s=60)
        # The outcome came back as a callback, under the bank's own certificate.
        conn = await asyncpg.connect(dsn)
        try:
            actor = await conn.fetchval("SELECT actor FROM case_events WHERE kind = 'order.held'")
        finally:
            await conn.close()
        assert actor == "stopay://bank/CBK"
    finally:
        await channel.close()
        await served.stop()
        await sim.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

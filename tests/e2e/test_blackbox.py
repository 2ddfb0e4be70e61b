"""``stopay serve`` as a separate process, driven only through gRPC: restarts keep every case, and a
process killed between commit and delivery loses no order."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import grpc

from stopay.v1 import station_pb2, station_pb2_grpc
from tests.conftest import EXAMPLES, eventually
from tests.entries import scenario_requests_for


class Served:
    """One ``stopay serve`` process."""

    def __init__(self, tmp: Path, *args: str, command: tuple[str, ...] = ("serve", "--insecure")) -> None:
        self.port_file = tmp / f"port-{time.monotonic_ns()}"
        self.log = open(tmp / "serve.log", "ab")
        listen = () if "--listen" in args else ("--listen", "127.0.0.1:0")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "stopay.cli.main", *command, *listen, "--port-file", str(self.port_file), *args],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "STOPAY_LOG_LEVEL": "info"},
        )
        deadline = time.monotonic() + 60
        while not self.port_file.exists() or not self.port_file.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"stopay serve did not start; log: {(tmp / 'serve.log').read_text()[-3000:]}")
            time.sleep(0.05)
        self.port = int(self.port_file.read_text())
        self.channel = grpc.aio.insecure_channel(f"127.0.0.1:{self.port}")
        self.stub = station_pb2_grpc.StationServiceStub(self.channel)

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        await self.channel.close()
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)
        self.log.close()
        return code


def pinned(tmp: Path, name: str, **bank_changes: object) -> Path:
    """A copy of an example scenario with a fixed epoch (so restarts agree), banks changed as asked."""
    data = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    data["epoch"] = datetime.now(UTC).replace(microsecond=0).isoformat()
    for bank in data["banks"]:
        bank.update(bank_changes)
    path = tmp / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


async def case_of(stub, case_id: str) -> station_pb2.Case:
    return await stub.GetCase(station_pb2.GetCaseRequest(case_id=case_id), timeout=10)


async def test_restart_keeps_every_case_on_the_embedded_database(tmp_path: Path) -> None:
    network = pinned(tmp_path, "seed-chen.json")
    data_dir = tmp_path / "pgdata"
    served = Served(tmp_path, "--data-dir", str(data_dir), "--bank-network", str(network))
    (request,) = scenario_requests_for(network)
    reply = await served.stub.SubmitEntry(request, timeout=10)
    await eventually(lambda: _settled(served.stub, reply.case_id))
    before = await case_of(served.stub, reply.case_id)
    assert await served.stop() == 0

    again = Served(tmp_path, "--data-dir", str(data_dir), "--bank-network", str(network))
    try:
        after = await case_of(again.stub, reply.case_id)
        assert after == before
        assert after.held_minor == 11000000 and after.settled
        listed = await again.stub.ListCases(station_pb2.ListCasesRequest(), timeout=10)
        assert [c.case_id for c in listed.cases] == [reply.case_id]
        retry = await again.stub.SubmitEntry(request, timeout=10)
        assert (retry.case_id, retry.duplicate) == (reply.case_id, True)
    finally:
        await again.stop()


async def test_kill_after_commit_before_dispatch_loses_no_order(tmp_path: Path, dsn: str) -> None:
    network = pinned(tmp_path, "seed-xue.json")
    api_only = Served(tmp_path, "--dsn", dsn, "--bank-network", str(network), "--no-dispatcher")
    (request,) = scenario_requests_for(network)
    reply = await api_only.stub.SubmitEntry(request, timeout=10)
    queued = await case_of(api_only.stub, reply.case_id)
    # The level-1 freeze order and its stop.
    assert sorted((o.kind, o.status) for o in queued.orders) == [
        (station_pb2.ORDER_KIND_FREEZE, station_pb2.ORDER_STATUS_QUEUED),
        (station_pb2.ORDER_KIND_STOP, station_pb2.ORDER_STATUS_QUEUED),
    ]
    await api_only.stop(signal.SIGKILL)

    served = Served(tmp_path, "--dsn", dsn, "--bank-network", str(network))
    try:
        await eventually(lambda: _settled(served.stub, reply.case_id))
        case = await case_of(served.stub, reply.case_id)
        inquiry, stop = level1(case, station_pb2.ORDER_KIND_FREEZE), level1(case, station_pb2.ORDER_KIND_STOP)
        assert (stop.status, stop.held_minor) == (station_pb2.ORDER_STATUS_PARTIALLY_HELD, 35000000)
        assert (inquiry.status, inquiry.held_minor) == (station_pb2.ORDER_STATUS_MOVED_ON, 0)
        # One freeze, one statement: nothing was sent before the kill.
        assert (stop.attempts, inquiry.attempts) == (1, 1)
        assert case.held_minor == 35000000 + 21000000 and case.exited_minor == 2000000
    finally:
        await served.stop()


async def test_kill_while_the_bank_is_answering_loses_no_order(tmp_path: Path, dsn: str) -> None:
    network = pinned(tmp_path, "seed-chen.json", latency_ms=4000)
    first = Served(tmp_path, "--dsn", dsn, "--bank-network", str(network), "--lease-seconds", "1")
    (request,) = scenario_requests_for(network)
    reply = await first.stub.SubmitEntry(request, timeout=10)

    # The freeze order's statement and its stop's freeze both go out.
    async def claimed() -> bool:
        return [o.attempts for o in (await case_of(first.stub, reply.case_id)).orders] == [1, 1]

    await eventually(claimed)
    await first.stop(signal.SIGKILL)  # mid-delivery: the leases are held, no answer recorded

    second = Served(tmp_path, "--dsn", dsn, "--bank-network", str(network), "--lease-seconds", "1")
    try:
        await eventually(lambda: _settled(second.stub, reply.case_id), timeout_s=30)
        case = await case_of(second.stub, reply.case_id)
        assert len(case.orders) == 2
        stop, inquiry = level1(case, station_pb2.ORDER_KIND_STOP), level1(case, station_pb2.ORDER_KIND_FREEZE)
        assert (stop.status, stop.held_minor) == (station_pb2.ORDER_STATUS_HELD, 11000000)
        assert stop.attempts == 2  # the freeze killed in flight, then the freeze
        # The statement killed in flight, then the statement, which finds the money asked for.
        assert (inquiry.status, inquiry.attempts) == (station_pb2.ORDER_STATUS_MOVED_ON, 2)
    finally:
        await second.stop()


def level1(case: station_pb2.Case, kind: int) -> station_pb2.FreezeOrder:
    """The case's level-1 order of ``kind``: its freeze order, or the stop beside it."""
    (order,) = [o for o in case.orders if o.level == 1 and o.kind == kind]
    return order


async def _settled(stub, case_id: str) -> bool:
    return (await case_of(stub, case_id)).settled


def test_serve_refuses_to_start_without_insecure(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stopay.cli.main", "serve", "--data-dir", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--insecure" in result.stderr
    assert not (tmp_path / "x").exists()

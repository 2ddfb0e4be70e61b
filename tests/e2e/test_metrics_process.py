"""`stopay serve --metrics-listen` as a process: its /metrics endpoint, scraped over HTTP, counts the
calls made to it and the case's first hold."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.conftest import eventually
from tests.e2e.test_blackbox import Served, _settled, pinned
from tests.entries import scenario_requests_for
from tests.integration.test_metrics import Scrape, scrape


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_serve_with_metrics_listen_serves_them(tmp_path: Path, dsn: str) -> None:
    network = pinned(tmp_path, "seed-xue.json")
    port = free_port()
    served = Served(tmp_path, "--dsn", dsn, "--bank-network", str(network), "--metrics-listen", f"127.0.0.1:{port}")
    try:
        (request,) = scenario_requests_for(network)
        reply = await served.stub.SubmitEntry(request, timeout=10)
        await eventually(lambda: _settled(served.stub, reply.case_id))
        found: list[Scrape] = []

        async def first_hold() -> bool:
            found[:] = [got := await scrape(port)]
            family = "stopay_entry_to_first_hold_seconds"
            return got.value(f"{family}_count", family) == 1

        await eventually(first_hold)
        got = found[0]
        assert got.value("stopay_rpcs_handled_total", "stopay_rpcs_handled", method="SubmitEntry", code="OK") == 1
        assert got.value("stopay_gauges_read_ok") == 1
        assert {s.labels["bank"] for s in got.samples("stopay_bank_breaker_state")} == {"ABC", "CCB", "CQRCB", "ICBC"}
    finally:
        assert await served.stop() == 0

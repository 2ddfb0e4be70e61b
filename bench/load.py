"""The client: a grpc.aio channel with a fixed number of SubmitEntry calls in flight, the same for
the ceiling and for stopay."""

from __future__ import annotations

import asyncio
import copy
import json
import math
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
from google.protobuf import json_format

from stopay.api.validation import confirm_request
from stopay.domain.confirmation import ConfirmationMethod
from stopay.v1 import station_pb2, station_pb2_grpc

EXAMPLE_ENTRY = Path(__file__).resolve().parents[1] / "stopay" / "examples" / "entry-seed-xue.json"


@dataclass(frozen=True)
class Run:
    requests: int
    seconds: float
    latencies_s: list[float]

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies_s)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000


def entries(count: int) -> list[station_pb2.SubmitEntryRequest]:
    """``count`` copies of the example entry, each with its own entry_id and txn_id (so no entry is
    linked to an earlier report of the same transfer), paid 15 minutes ago and confirmed by the
    victim on the station's second screen, built before the clock starts."""
    template = json_format.ParseDict(
        json.loads(EXAMPLE_ENTRY.read_text(encoding="utf-8")), station_pb2.SubmitEntryRequest()
    )
    at = datetime.now(UTC) - timedelta(minutes=15)
    out = []
    for _ in range(count):
        request = copy.deepcopy(template)
        request.entry_id = str(uuid.uuid4())
        for transfer in request.transfers:
            transfer.txn_id = f"BENCH-{uuid.uuid4().hex[:16]}"
            transfer.transferred_at.FromDatetime(at.replace(microsecond=0))
        confirm_request(request, ConfirmationMethod.DUAL_SCREEN)
        out.append(request)
    return out


async def drive(target: str, requests: list[station_pb2.SubmitEntryRequest], concurrency: int) -> Run:
    """Sends every request with ``concurrency`` calls in flight; each call must succeed."""
    async with grpc.aio.insecure_channel(target) as channel:
        await asyncio.wait_for(channel.channel_ready(), 30)
        stub = station_pb2_grpc.StationServiceStub(channel)
        pending = iter(requests)
        latencies: list[float] = []

        async def worker() -> None:
            for request in pending:
                began = time.perf_counter()
                await stub.SubmitEntry(request, timeout=60)
                latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return Run(len(requests), time.perf_counter() - began, latencies)


def median(values: list[float]) -> float:
    return statistics.median(values)

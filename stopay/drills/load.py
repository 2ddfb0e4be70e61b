"""The drills' load: entries of a generated mule tree, submitted at a steady rate over every
replica, each one sent again under the same entry_id (as the station client does) until it is
acknowledged, refused, or given up."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc

from bank_adapters.simulated.generator import tree
from bank_adapters.simulated.scenario import parse_scenario
from stopay.api.validation import confirm_request
from stopay.domain.confirmation import ConfirmationMethod
from stopay.drills.figures import Call
from stopay.v1 import common_pb2, station_pb2, station_pb2_grpc

__all__ = ["Loader", "network"]

RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.CANCELLED,
    }
)
CALL_TIMEOUT_S = 10.0
BACKOFF_S = (0.2, 0.5, 1.0, 2.0)


def network(
    path: Path,
    victims: int,
    *,
    fan_out: int,
    levels: int,
    latency_ms: int,
    outages: dict[str, list[list[float]]] | None = None,
) -> tuple[dict[str, Any], datetime]:
    """Writes a tree network (bank_adapters/simulated/generator.py) of ``victims`` victims, its epoch
    pinned to now, with ``outages`` by bank code (seconds from the epoch); returns it and the epoch."""
    epoch = datetime.now(UTC).replace(microsecond=0)
    doc = tree(fan_out=fan_out, levels=levels, victims=victims, banks=4, latency_ms=latency_ms, seed=7)
    doc["epoch"] = epoch.isoformat()
    for bank in doc["banks"]:
        if outages and bank["code"] in outages:
            bank["outages"] = outages[bank["code"]]
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return doc, epoch


def bank_codes(doc: dict[str, Any]) -> list[str]:
    return [bank["code"] for bank in doc["banks"]]


def entries(doc: dict[str, Any], epoch: datetime) -> list[station_pb2.SubmitEntryRequest]:
    """One entry per victim of the network's check, as a station keys it in, confirmed by the victim."""
    scenario = parse_scenario(doc)
    out = []
    for n, entry in enumerate(scenario.checks[0].entries, 1):
        request = station_pb2.SubmitEntryRequest(
            entry_id=str(uuid.uuid4()),
            station_id="DRILL-STATION",
            officer_id="DRILL-OFFICER",
            report_no=f"DRILL-{n}",
            victim=station_pb2.Victim(name=entry.victim),
            fraud_type=station_pb2.FRAUD_TYPE_OTHER,
        )
        for txn_id in entry.transfers:
            event = scenario.event(txn_id)
            assert event.from_account is not None and event.to_account is not None
            transfer = request.transfers.add(
                payer=_account(scenario, event.from_account),
                payee=_account(scenario, event.to_account),
                amount_minor=event.amount,
                currency=scenario.currency,
                txn_id=txn_id,
            )
            transfer.transferred_at.FromDatetime(epoch + timedelta(seconds=event.at))
        confirm_request(request, ConfirmationMethod.DUAL_SCREEN)
        out.append(request)
    return out


def _account(scenario: Any, account_id: str) -> common_pb2.AccountRef:
    bank_code, number = account_id.split(":", 1)
    return common_pb2.AccountRef(bank_code=bank_code, number=number, holder_name=scenario.account(account_id).holder)


class Loader:
    """Submits entries at ``rate`` a second, ``concurrency`` at most in flight, round robin over
    ``targets``; records every attempt (:class:`Call`) on the drill's clock (``time.monotonic``)."""

    def __init__(self, targets: Sequence[str], *, rate: float, concurrency: int = 32, give_up_s: float = 180.0) -> None:
        self.targets = list(targets)
        self.rate = rate
        self.concurrency = concurrency
        self.give_up_s = give_up_s
        self.calls: list[Call] = []
        self.acked: list[str] = []
        self.refused: dict[str, str] = {}
        self.abandoned: list[str] = []
        self.sent = 0
        self.retries = 0
        self._next = itertools.count()

    async def run(self, requests: Sequence[station_pb2.SubmitEntryRequest], stop: asyncio.Event | None = None) -> None:
        """Submits ``requests`` in order until all are done or ``stop`` is set (no new entry starts then)."""
        channels = {t: grpc.aio.insecure_channel(t) for t in self.targets}
        stubs = {t: station_pb2_grpc.StationServiceStub(c) for t, c in channels.items()}
        pending = iter(enumerate(requests))
        began = time.monotonic()

        async def worker() -> None:
            for i, request in pending:
                if stop is not None and stop.is_set():
                    return
                wait = began + i / self.rate - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if stop is not None and stop.is_set():
                    return
                self.sent += 1
                await self._submit(stubs, request)

        try:
            await asyncio.gather(*(worker() for _ in range(self.concurrency)))
        finally:
            for channel in channels.values():
                await channel.close()

    async def _submit(
        self, stubs: dict[str, station_pb2_grpc.StationServiceStub], request: station_pb2.SubmitEntryRequest
    ) -> None:
        first = time.monotonic()
        for attempt in itertools.count():
            target = self.targets[next(self._next) % len(self.targets)]
            began = time.monotonic()
            try:
                await stubs[target].SubmitEntry(request, timeout=CALL_TIMEOUT_S)
            except grpc.aio.AioRpcError as exc:
                self.calls.append(Call(began, time.monotonic(), False))
                if exc.code() not in RETRYABLE:
                    self.refused[request.entry_id] = f"{exc.code().name}: {exc.details()}"
                    return
                if time.monotonic() - first > self.give_up_s:
                    self.abandoned.append(request.entry_id)
                    return
                self.retries += 1
                await asyncio.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
                continue
            self.calls.append(Call(began, time.monotonic(), True))
            self.acked.append(request.entry_id)
            return

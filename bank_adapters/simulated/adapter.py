"""The ``simulated`` bank adapter: serves a scenario's banks in real time over a :class:`World`.

Registered as the entry point ``simulated`` of the group ``stopay.bank_adapters``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from os import PathLike
from typing import Any

from bank_adapters.protocol import (
    ExtendAnswer,
    ExtendRequest,
    FreezeAnswer,
    FreezeRequest,
    ReleaseAnswer,
    ReleaseRequest,
    ReturnAnswer,
    ReturnRequest,
    StatementAnswer,
    StatementRequest,
)
from bank_adapters.simulated.scenario import Scenario, load_scenario, parse_scenario
from bank_adapters.simulated.world import DEFAULT_TIME_TOLERANCE_S, World

Clock = Callable[[], datetime]
OPTIONS = frozenset({"network", "epoch", "time_tolerance_s", "clock"})


def utc_now() -> datetime:
    return datetime.now(UTC)


class SimulatedBanks:
    """Every bank of one scenario, answering statement, freeze, release, extend and return requests
    after each bank's ``latency_ms``.

    The world is consulted after the latency has passed, so money can move on while a slow bank
    is still working. Scheduled moves run on time in a background task started by :meth:`start`.
    Banks in ``callback`` mode are, for now, answered synchronously like ``sync`` banks (the
    acknowledgement-then-callback flow comes with the callback interface).
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        epoch: datetime | None = None,
        time_tolerance_s: float = DEFAULT_TIME_TOLERANCE_S,
        clock: Clock = utc_now,
    ) -> None:
        self._clock = clock
        self._world = World(scenario, clock(), epoch=epoch, time_tolerance_s=time_tolerance_s)
        self._codes = frozenset(b.code for b in scenario.banks)
        self._mover: asyncio.Task[None] | None = None

    @property
    def bank_codes(self) -> frozenset[str]:
        return self._codes

    @property
    def world(self) -> World:
        """The simulated state, for tests and demos that want to look inside."""
        return self._world

    async def start(self) -> None:
        if self._mover is None:
            self._mover = asyncio.create_task(self._run_moves(), name="simulated-bank-moves")

    async def statement(self, request: StatementRequest) -> StatementAnswer:
        await self._latency(request.account.bank_code)
        return self._world.statement(request, self._clock())

    async def freeze(self, request: FreezeRequest) -> FreezeAnswer:
        await self._latency(request.account.bank_code)
        return self._world.freeze(request, self._clock())

    async def release(self, request: ReleaseRequest) -> ReleaseAnswer:
        await self._latency(request.account.bank_code)
        return self._world.release(request, self._clock())

    async def extend(self, request: ExtendRequest) -> ExtendAnswer:
        await self._latency(request.account.bank_code)
        return self._world.extend(request, self._clock())

    async def return_funds(self, request: ReturnRequest) -> ReturnAnswer:
        await self._latency(request.account.bank_code)
        return self._world.return_funds(request, self._clock())

    async def _latency(self, code: str) -> None:
        """Take as long as the bank takes to answer (an unknown bank answers at once)."""
        latency_ms = self._world.scenario.bank(code).latency_ms if code in self._codes else 0
        if latency_ms:
            await asyncio.sleep(latency_ms / 1000)

    async def close(self) -> None:
        if self._mover is not None:
            self._mover.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._mover
            self._mover = None

    async def _run_moves(self) -> None:
        while (due := self._world.next_move_at()) is not None:
            delay = (due - self._clock()).total_seconds()
            if delay > 0:
                await asyncio.sleep(delay)
            self._world.advance(self._clock())


def create(options: Mapping[str, Any]) -> SimulatedBanks:
    """Adapter factory. Options: ``network`` (scenario path, Scenario or decoded JSON dict),
    optional ``epoch`` (datetime or ISO 8601 string with offset; overrides the scenario's),
    ``time_tolerance_s`` (default 120) and ``clock`` (a callable returning aware datetimes)."""
    unknown = set(options) - OPTIONS
    if unknown:
        raise ValueError(f"simulated adapter: unknown options {sorted(unknown)}; known: {sorted(OPTIONS)}")
    if "network" not in options:
        raise ValueError("simulated adapter: option 'network' (scenario file) is required")
    epoch = options.get("epoch")
    if isinstance(epoch, str):
        epoch = datetime.fromisoformat(epoch)
    return SimulatedBanks(
        _scenario(options["network"]),
        epoch=epoch,
        time_tolerance_s=float(options.get("time_tolerance_s", DEFAULT_TIME_TOLERANCE_S)),
        clock=options.get("clock", utc_now),
    )


def _scenario(network: str | PathLike[str] | Scenario | Mapping[str, Any]) -> Scenario:
    if isinstance(network, Scenario):
        return network
    if isinstance(network, Mapping):
        return parse_scenario(dict(network))
    return load_scenario(network)

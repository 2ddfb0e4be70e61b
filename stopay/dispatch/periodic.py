"""A task that does one round every few seconds until it is stopped (the sweeper, the checkpointer).

A round that fails is logged, and the next one runs all the same: a database away for a while, or
a defect in one round, must not end the task.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from stopay.store.errors import StoreError

log = structlog.get_logger(__name__)


class Periodic:
    # The task's name, and the log event of a failed round.
    name = "stopay-periodic"
    failed_event = "periodic.failed"

    def __init__(self, every_s: float) -> None:
        self._every_s = every_s
        self._task: asyncio.Task[None] | None = None
        # Set by stop(): the loop ends at its next turn even if the cancel was lost (Python 3.11
        # swallows a cancel that lands as a wait_for's inner call completes).
        self._stopping = False

    async def round(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await self.round()
            except StoreError as exc:
                log.warning(self.failed_event, error=str(exc))
            except Exception:  # the task must outlive any one round
                log.exception(self.failed_event)
            await asyncio.sleep(self._every_s)

"""Signs a checkpoint of the audit chains' heads every few minutes (``serve --checkpoint-key``).

Every replica given the key may run one: two checkpoints of nearly the same moment are harmless.
A round that fails (the database away) is logged and the next one tries again.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import structlog

from stopay.security.checkpoints import Signer
from stopay.store import checkpoints
from stopay.store.errors import StoreError

log = structlog.get_logger(__name__)


class Checkpointer:
    def __init__(self, pool: asyncpg.Pool, signer: Signer, every_s: float) -> None:
        self._pool = pool
        self._signer = signer
        self._every_s = every_s
        self._task: asyncio.Task[None] | None = None
        self.written = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="stopay-checkpointer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                done = await checkpoints.write(self._pool, self._signer)
                self.written += 1
                log.info("audit.checkpoint", checkpoint_id=done.checkpoint_id, heads=done.heads, root=done.root_hash)
            except StoreError as exc:
                log.warning("audit.checkpoint_failed", error=str(exc))
            except Exception:  # the task must outlive any one round
                log.exception("audit.checkpoint_failed")
            await asyncio.sleep(self._every_s)

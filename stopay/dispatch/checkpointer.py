"""Signs a checkpoint of the audit chains' heads every few minutes (``serve --checkpoint-key``).

Every replica given the key may run one: two checkpoints of nearly the same moment are harmless.
A round that fails (the database away) is logged and the next one tries again.
"""

from __future__ import annotations

import asyncpg
import structlog

from stopay.dispatch.periodic import Periodic
from stopay.security.checkpoints import Signer
from stopay.store import checkpoints

log = structlog.get_logger(__name__)


class Checkpointer(Periodic):
    name = "stopay-checkpointer"
    failed_event = "audit.checkpoint_failed"

    def __init__(self, pool: asyncpg.Pool, signer: Signer, every_s: float) -> None:
        super().__init__(every_s)
        self._pool = pool
        self._signer = signer
        self.written = 0

    async def round(self) -> None:
        done = await checkpoints.write(self._pool, self._signer)
        self.written += 1
        log.info("audit.checkpoint", checkpoint_id=done.checkpoint_id, heads=done.heads, root=done.root_hash)

"""The health probe's loop ends when it is closed even if the cancel is lost: on Python 3.11 a
cancel that lands as a wait_for's inner call completes is swallowed (the probe would then run on,
and the app's stop would wait for it forever)."""

from __future__ import annotations

import asyncio

from stopay.store.primary import PrimaryWatch


class SwallowsOneCancel(PrimaryWatch):
    def __init__(self) -> None:
        async def report(_reachable: bool) -> None:
            return None

        super().__init__("postgresql://nowhere.invalid/x", report, every_s=0.01)
        self.swallowed = 0
        self.probing = asyncio.Event()

    async def probe(self) -> bool:
        self.probing.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if self.swallowed:
                raise
            self.swallowed += 1  # as a wait_for whose inner call completed at the same moment
        return True


async def test_close_ends_the_probe_loop_even_when_the_cancel_is_swallowed() -> None:
    watch = SwallowsOneCancel()
    watch.start()
    await watch.probing.wait()
    closing = asyncio.create_task(watch.close())
    done, _ = await asyncio.wait({closing}, timeout=5)
    assert closing in done, "close() waited for a probe loop that never ended"
    assert watch.swallowed == 1
    assert watch._task is None

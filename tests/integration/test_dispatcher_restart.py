"""A dispatcher stopped and started again delivers again: its stop leaves a flag its claimer checks
at every turn, and a start must clear it, or the new claimer ends at once and orders wait for
ever (tests/e2e/test_holds.py stops and restarts one to hold a formal freeze back from the bank)."""

from __future__ import annotations

from stopay.dispatch.dispatcher import DispatchSettings
from tests.conftest import eventually
from tests.entries import simple_request
from tests.fakebank import FakeBank


async def test_a_dispatcher_started_again_after_a_stop_delivers(make_app, channel_to, pool) -> None:
    app = await make_app(
        bank_adapters={"NBK": FakeBank({"NBK"})},
        dispatch=DispatchSettings(poll_s=0.1, retry_base_s=0.05, retry_cap_s=0.3),
    )
    assert app.dispatcher is not None
    await app.dispatcher.stop(0)
    await channel_to(app).SubmitEntry(simple_request(("NBK", "6222020200005555", 70_000)))
    # The freeze order (its statement) and its stop (the freeze) wait.
    assert await statuses(pool) == [("freeze", "queued"), ("stop", "queued")]

    await app.dispatcher.start()

    # Both are delivered: the stop holds the money, which its freeze order's statement then finds
    # asked for already.
    async def held() -> bool:
        return await statuses(pool) == [("freeze", "moved_on"), ("stop", "held")]

    await eventually(held)


async def statuses(pool) -> list[tuple[str, str]]:
    return [tuple(r) for r in await pool.fetch("SELECT kind, status FROM freeze_orders ORDER BY kind")]

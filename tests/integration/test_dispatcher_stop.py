"""A dispatcher stops even when the stop lands as a notification wakes its claimer: on Python 3.11
``asyncio.wait_for`` loses a cancel that arrives as the awaited event fires, and the claimer would
run on, with the stop waiting for it (an app's stop hung so under load)."""

from __future__ import annotations

import asyncio

from stopay.dispatch.dispatcher import DispatchSettings
from tests.conftest import eventually


async def test_a_stop_that_lands_as_a_notification_wakes_the_claimer_still_stops(make_app) -> None:
    app = await make_app(dispatch=DispatchSettings(poll_s=60.0))
    dispatcher = app.dispatcher
    assert dispatcher is not None
    claimer = dispatcher._tasks[0]

    async def parked() -> bool:  # waiting for a notification, after its first claim
        return "wait_for" in repr(claimer.get_coro().cr_await)

    await eventually(parked)
    app.notifications._on_notify(None, 0, "stopay_orders", "")  # a new order, in the same step as the stop
    stopping = asyncio.create_task(dispatcher.stop())
    done, _ = await asyncio.wait({stopping}, timeout=10)
    if not done:
        claimer.cancel()  # so that the test ends
        await stopping
    assert done, "the dispatcher did not stop"
    assert claimer.done()

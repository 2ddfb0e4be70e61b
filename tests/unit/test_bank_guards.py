"""Per-bank circuit breakers: open after failures in a row, one trial at a time when half-open."""

from __future__ import annotations

import asyncio

import pytest

from bank_adapters.protocol import BankRefused, BankUnavailable
from stopay.dispatch.banks import BankGuards, BankOpen, BreakerState
from tests.conftest import FakeClock, eventually


async def fail(guards: BankGuards, bank: str, error: Exception) -> None:
    with pytest.raises(type(error)):
        async with guards.call(bank):
            raise error


async def test_a_failing_bank_opens_then_lets_one_trial_through() -> None:
    clock = FakeClock()
    guards = BankGuards(threshold=2, open_s=10, concurrency=8, clock=clock)
    await fail(guards, "ICBC", BankUnavailable("down"))
    assert await guards.open_banks() == []
    await fail(guards, "ICBC", BankUnavailable("down"))
    assert await guards.open_banks() == ["ICBC"]
    with pytest.raises(BankOpen):
        async with guards.call("ICBC"):
            pass
    async with guards.call("ABC"):  # other banks are not affected
        pass

    clock.advance(9.9)
    assert await guards.open_banks() == ["ICBC"]  # not yet
    with pytest.raises(BankOpen):
        async with guards.call("ICBC"):
            pass
    clock.advance(0.2)
    assert await guards.open_banks() == []  # due for a trial
    release = asyncio.Event()
    entered = []

    async def attempt(n: int) -> str:
        try:
            async with guards.call("ICBC"):
                entered.append(n)
                await release.wait()
                raise BankUnavailable("still down")
        except BankOpen:
            return "refused"
        except BankUnavailable:
            return "tried"

    tasks = [asyncio.create_task(attempt(n)) for n in range(5)]

    async def others_refused() -> bool:
        return len(entered) == 1 and sum(t.done() for t in tasks) == 4

    await eventually(others_refused)
    assert await guards.open_banks() == ["ICBC"]  # the trial is out
    release.set()
    results = await asyncio.gather(*tasks)
    assert sorted(results) == ["refused"] * 4 + ["tried"]
    assert await guards.open_banks() == ["ICBC"]  # the failed trial opened it again

    clock.advance(10)
    async with guards.call("ICBC"):  # a successful trial closes it
        pass
    async with guards.call("ICBC"):
        pass
    assert await guards.open_banks() == []


async def test_a_refusal_is_not_a_failure() -> None:
    guards = BankGuards(threshold=2, open_s=10, concurrency=8)
    for _ in range(5):
        await fail(guards, "ICBC", BankRefused("INVALID_ARGUMENT"))
    assert await guards.open_banks() == []


async def test_a_refusal_in_a_trial_closes_the_breaker() -> None:
    clock = FakeClock()
    guards = BankGuards(threshold=1, open_s=10, concurrency=8, clock=clock)
    await fail(guards, "ICBC", BankUnavailable("down"))
    assert await guards.open_banks() == ["ICBC"]
    clock.advance(10)
    await fail(guards, "ICBC", BankRefused("INVALID_ARGUMENT"))  # the bank answered
    assert await guards.open_banks() == []
    await fail(guards, "ICBC", TimeoutError())
    assert await guards.open_banks() == ["ICBC"]


async def test_the_breaker_states_the_metrics_show() -> None:
    clock = FakeClock()
    guards = BankGuards(threshold=1, open_s=10, concurrency=8, clock=clock)
    assert guards.states() == {}
    async with guards.call("ABC"):
        pass
    await fail(guards, "ICBC", BankUnavailable("down"))
    assert guards.states() == {"ABC": BreakerState.CLOSED, "ICBC": BreakerState.OPEN}
    clock.advance(10.1)
    assert guards.states()["ICBC"] is BreakerState.HALF_OPEN  # due for its trial
    release = asyncio.Event()

    async def trial() -> None:
        async with guards.call("ICBC"):
            await release.wait()

    task = asyncio.create_task(trial())

    async def out() -> bool:
        return "ICBC" in await guards.open_banks()

    await eventually(out)
    assert guards.states()["ICBC"] is BreakerState.HALF_OPEN  # the trial is out
    release.set()
    await task
    assert guards.states()["ICBC"] is BreakerState.CLOSED

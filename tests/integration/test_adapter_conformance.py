"""The built-in adapters pass the adapter conformance suite (bank_adapters/conformance.py): the
``simulated`` adapter in-process, and the ``grpc`` adapter against a bank-sim on a free port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from bank_adapters.conformance import AdapterConformance, AdapterFor
from bank_adapters.protocol import BankAdapter
from bank_adapters.remote import adapter as remote
from bank_adapters.simulated import adapter as simulated
from stopay.banksim.server import BankSim, serve


class TestSimulatedAdapter(AdapterConformance):
    # SimulatedBanks answers banks in "callback" mode at once, like sync banks (its docstring says
    # so); the PDCR-then-callback flow is bank-sim's (see TestGrpcAdapter).
    callback_answers_pending = False

    @pytest_asyncio.fixture
    async def adapter_for(self) -> AsyncIterator[AdapterFor]:
        async def make(network: dict[str, Any]) -> BankAdapter:
            banks = simulated.create({"network": network})
            await banks.start()
            return banks

        yield make

    async def restart(self, adapter: BankAdapter) -> BankAdapter:
        # The simulated banks live inside the adapter (its World): a new instance would be a new
        # bank. A restart of stopay is the same banks with the adapter closed and started again.
        await adapter.close()
        await adapter.start()
        return adapter


class TestGrpcAdapter(AdapterConformance):
    # bank-sim is started without --callback: the callback-mode bank answers PDCR and keeps the
    # outcome for a resend under the same key, which is what the suite checks.

    @pytest_asyncio.fixture
    async def adapter_for(self) -> AsyncIterator[AdapterFor]:
        sims: list[BankSim] = []

        async def make(network: dict[str, Any]) -> BankAdapter:
            sim, port = await serve(network, "127.0.0.1:0")
            sims.append(sim)
            banks = remote.create({"target": f"127.0.0.1:{port}", "banks": sorted(sim.bank_codes)})
            await banks.start()
            return banks

        try:
            yield make
        finally:
            for sim in sims:
                await sim.stop(0)

    async def restart(self, adapter: BankAdapter) -> BankAdapter:
        # stopay restarts, the bank does not: a new client against the same bank-sim.
        assert isinstance(adapter, remote.RemoteBanks)
        await adapter.close()
        fresh = remote.create({"target": adapter.target, "banks": sorted(adapter.bank_codes)})
        await fresh.start()
        return fresh

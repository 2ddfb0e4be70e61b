"""``stopay bank-sim --counts-file``: the freeze requests it got, counted by idempotency key, in a
file a drill reads (stopay/banksim/tally.py, docs/reliability.md#drills)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bank_adapters.protocol import Account, FreezeRequest, IncomingTransfer
from bank_adapters.remote import convert
from bank_adapters.remote.v1 import remote_bank_pb2_grpc
from stopay.drills.figures import doubled_at_banks, resent_keys
from tests.conftest import eventually
from tests.e2e.test_blackbox import Served, pinned

MULE = Account("ICBC", "6222020200001111111")


def freeze(key: str, order_id: str) -> FreezeRequest:
    return FreezeRequest(
        idempotency_key=key,
        case_id="case-1",
        order_id=order_id,
        level=1,
        account=MULE,
        amount_minor=100_000,
        currency="CNY",
        incoming=(IncomingTransfer("XUE-T1", 100_000, datetime.now(UTC) - timedelta(minutes=5)),),
    )


async def test_bank_sim_counts_freezes_by_key_in_its_counts_file(tmp_path: Path) -> None:
    counts = tmp_path / "counts.json"
    network = pinned(tmp_path, "seed-xue.json")
    sim = Served(
        tmp_path, "--bank-network", str(network), "--counts-file", str(counts), command=("bank-sim", "--insecure")
    )
    try:
        stub = remote_bank_pb2_grpc.RemoteBankStub(sim.channel)
        for request in (freeze("k-1", "o-1"), freeze("k-1", "o-1"), freeze("k-2", "o-1"), freeze("k-3", "o-2")):
            await stub.Freeze(convert.freeze_request_to_message(request), timeout=10)

        async def written() -> bool:  # every second while it serves
            return counts.exists() and json.loads(counts.read_text())["freeze_requests"] == 4

        await eventually(written, timeout_s=10)
    finally:
        assert await sim.stop() == 0
    tally = json.loads(counts.read_text(encoding="utf-8"))  # and once more on exit
    assert tally["freeze_requests"] == 4
    assert tally["keys"]["k-1"] == {"requests": 2, "order_id": "o-1", "case_id": "case-1", "account": MULE.id}
    assert set(tally["keys"]) == {"k-1", "k-2", "k-3"}
    assert resent_keys(tally) == 1
    # o-1 reached the bank under k-1 and k-2; o-2 froze the same account in the same case
    assert doubled_at_banks(tally) == {"orders_under_two_keys": 1, "accounts_frozen_twice_in_a_case": 1}

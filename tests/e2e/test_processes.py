"""stopay and its banks as separate processes over gRPC: a bank that stays down while it is retried
delays only its own orders; three replicas share a thousand orders and a replica killed mid-batch
loses nothing."""

from __future__ import annotations

import asyncio
import json
import signal
import statistics
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from google.protobuf import json_format

from stopay.banksim.server import serve as serve_banks
from stopay.v1 import station_pb2
from tests.conftest import eventually
from tests.e2e.test_blackbox import Served
from tests.entries import confirm

VICTIM = "VBK:6214830000000001"


def network(tmp: Path, name: str, banks: dict[str, int], epoch: datetime, latency_ms: int = 30) -> Path:
    """``banks``: bank code -> number of mule accounts there, each paid 1000.00 by the victim."""
    accounts = [{"id": VICTIM, "holder": "受害人", "opening_balance": 10**12}]
    ledger = []
    for code, count in banks.items():
        for n in range(count):
            account = f"{code}:62{n:014d}"
            accounts.append({"id": account, "holder": f"{code}某{n}", "opening_balance": 0})
            ledger.append(
                {
                    "seq": len(ledger) + 1,
                    "at": -600,
                    "from": VICTIM,
                    "to": account,
                    "amount": 100000,
                    "txn_id": f"{code}-T{n}",
                }
            )
    data = {
        "format": "stopay-bank-network/1",
        "name": name,
        "currency": "CNY",
        "epoch": epoch.isoformat(),
        "banks": [{"code": "VBK", "name": "Victim's bank"}]
        + [{"code": code, "name": code, "latency_ms": latency_ms} for code in banks],
        "accounts": accounts,
        "ledger": ledger,
    }
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def entry(code: str, n: int, epoch: datetime, payees: int = 1) -> station_pb2.SubmitEntryRequest:
    at = datetime.fromtimestamp(epoch.timestamp() - 600, UTC).isoformat()
    transfers = [
        {
            "payer": {"bank_code": "VBK", "number": VICTIM.split(":")[1], "holder_name": "受害人"},
            "payee": {"bank_code": code, "number": f"62{m:014d}", "holder_name": f"{code}某{m}"},
            "amount_minor": 100000,
            "transferred_at": at,
            "txn_id": f"{code}-T{m}",
        }
        for m in range(n * payees, (n + 1) * payees)
    ]
    request = json_format.ParseDict(
        {
            "entry_id": f"e-{code}-{n}-{epoch.timestamp():.0f}",
            "station_id": "S1",
            "officer_id": "O1",
            "report_no": f"R-{code}-{n}",
            "victim": {"name": "受害人"},
            "fraud_type": "FRAUD_TYPE_OTHER",
            "transfers": transfers,
        },
        station_pb2.SubmitEntryRequest(),
    )
    # Confirmed a second after the transfers: the same entry built again is the same payload.
    return confirm(request, at=datetime.fromtimestamp(epoch.timestamp() - 599, UTC))


def stop_of(case: station_pb2.Case) -> station_pb2.FreezeOrder:
    """The stop of the case's one account: the order that holds its money."""
    (stop,) = [o for o in case.orders if o.kind == station_pb2.ORDER_KIND_STOP]
    return stop


async def hold_seconds(stub, case_id: str) -> float:
    """From the entry's acceptance to its hold, by the database clock."""

    async def held() -> bool:
        case = await stub.GetCase(station_pb2.GetCaseRequest(case_id=case_id))
        return case.settled and stop_of(case).status == station_pb2.ORDER_STATUS_HELD

    await eventually(held, timeout_s=60)
    case = await stub.GetCase(station_pb2.GetCaseRequest(case_id=case_id))
    return (stop_of(case).resolved_at.ToDatetime() - case.created_at.ToDatetime()).total_seconds()


async def test_a_bank_down_while_it_is_retried_delays_only_its_own_orders(tmp_path: Path, dsn: str) -> None:
    epoch = datetime.now(UTC).replace(microsecond=0)
    down_net, up_net = network(tmp_path, "down", {"DWN": 10}, epoch), network(tmp_path, "up", {"UPB": 40}, epoch)
    down = Served(tmp_path, "--bank-network", str(down_net), command=("bank-sim", "--insecure"))
    up = Served(tmp_path, "--bank-network", str(up_net), command=("bank-sim", "--insecure"))
    down_port = down.port
    served = Served(
        tmp_path,
        "--dsn",
        dsn,
        "--adapter",
        f"grpc:target=127.0.0.1:{down_port};banks=DWN",
        "--adapter",
        f"grpc:target=127.0.0.1:{up.port};banks=UPB",
        "--breaker-open",
        "2",
        "--retry-cap",
        "2",
    )
    try:

        async def through_up(first: int, count: int) -> list[float]:
            replies = [await served.stub.SubmitEntry(entry("UPB", n, epoch)) for n in range(first, first + count)]
            return [await hold_seconds(served.stub, r.case_id) for r in replies]

        baseline = await through_up(0, 20)
        await down.stop(signal.SIGKILL)
        waiting = [await served.stub.SubmitEntry(entry("DWN", n, epoch)) for n in range(10)]
        during = await through_up(20, 20)
        # Nothing of the down bank's is held while it is down...
        for reply in waiting:
            case = await served.stub.GetCase(station_pb2.GetCaseRequest(case_id=reply.case_id))
            assert not case.settled and case.held_minor == 0

        # The bank stays down until stopay has tried one of its orders again and failed again (its
        # breaker opened, and a trial, or a retry, met the bank still down).
        async def tried_again() -> bool:
            cases = [await served.stub.GetCase(station_pb2.GetCaseRequest(case_id=r.case_id)) for r in waiting]
            return any(o.attempts >= 2 for c in cases for o in c.orders)

        await eventually(tried_again, timeout_s=60)
        down = Served(
            tmp_path,
            "--bank-network",
            str(down_net),
            "--listen",
            f"127.0.0.1:{down_port}",
            command=("bank-sim", "--insecure"),
        )
        # ...and everything is, once it is back.
        for reply in waiting:
            await hold_seconds(served.stub, reply.case_id)
        assert statistics.median(during) <= 2 * statistics.median(baseline), (baseline, during)
    finally:
        await served.stop()
        await up.stop()
        await down.stop()


async def test_three_replica_processes_and_a_sigkill_mid_batch_lose_nothing(tmp_path: Path, dsn: str) -> None:
    epoch = datetime.now(UTC).replace(microsecond=0)
    path = network(tmp_path, "many", {"ICBC": 500, "ABC": 500}, epoch, latency_ms=5)
    banks, port = await serve_banks(path, "127.0.0.1:0")
    adapter = f"grpc:target=127.0.0.1:{port};banks=ICBC,ABC"
    replicas = [Served(tmp_path, "--dsn", dsn, "--adapter", adapter, "--lease-seconds", "2") for _ in range(3)]
    try:
        # 1,000 freeze orders, each with its stop.
        requests = [entry(code, n, epoch, payees=2) for code in ("ICBC", "ABC") for n in range(250)]
        replies = []
        for start in range(0, len(requests), 50):
            replies += await asyncio.gather(
                *(replicas[i % 3].stub.SubmitEntry(r) for i, r in enumerate(requests[start : start + 50]))
            )

        # Kill one replica while the orders are being delivered.
        async def some_held() -> bool:
            case = await replicas[0].stub.GetCase(
                station_pb2.GetCaseRequest(case_id=replies[len(replies) // 2].case_id)
            )
            return (
                case.held_minor > 0
                or (await replicas[0].stub.GetCase(station_pb2.GetCaseRequest(case_id=replies[0].case_id))).held_minor
                > 0
            )

        await eventually(some_held, timeout_s=60, every_s=0.01)
        await replicas[1].stop(signal.SIGKILL)
        admin = await asyncpg.connect(dsn)
        try:
            open_at_kill = await admin.fetchval("SELECT count(*) FROM freeze_orders WHERE resolved_at IS NULL")
        finally:
            await admin.close()
        assert open_at_kill > 0  # the kill came mid-batch, with work still open
        for reply in replies:

            async def settled(case_id: str = reply.case_id) -> bool:
                case = await replicas[0].stub.GetCase(station_pb2.GetCaseRequest(case_id=case_id))
                return case.settled

            await eventually(settled, timeout_s=120)
        cases = [await replicas[0].stub.GetCase(station_pb2.GetCaseRequest(case_id=r.case_id)) for r in replies]
        # At each of a case's 2 accounts, the stop holds and the freeze order finds the money asked for.
        assert all(
            sorted((o.kind, o.status) for o in c.orders)
            == [(station_pb2.ORDER_KIND_FREEZE, station_pb2.ORDER_STATUS_MOVED_ON)] * 2
            + [(station_pb2.ORDER_KIND_STOP, station_pb2.ORDER_STATUS_HELD)] * 2
            for c in cases
        )
        assert sum(c.held_minor for c in cases) == 1000 * 100000
        # The banks hold each account's money once, by its stop: nothing was held twice after the kill.
        holds = banks.banks.world.holds()
        assert len(holds) == 1000 and set(holds.values()) == {100000}
    finally:
        for replica in (replicas[0], replicas[2]):
            await replica.stop()
        await banks.stop()

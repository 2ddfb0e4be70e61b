"""Replicas with different adapters on one database: each claims only the orders of the banks it
serves, and an order is given up for want of an adapter (NOAD) only when no live replica serves its
bank. Replicas register the banks they serve in ``dispatch_replicas``, kept alive by the database
clock; one without a dispatcher serves nothing."""

from __future__ import annotations

from bank_adapters.protocol import BankUnavailable, StatementAnswer, StatementRequest
from stopay.dispatch.dispatcher import DispatchSettings
from tests.conftest import eventually
from tests.entries import simple_request
from tests.fakebank import FakeBank

FAST = dict(poll_s=0.1, retry_base_s=0.05, retry_cap_s=0.5, pending_recheck_s=0.2)


class DownOnceBank(FakeBank):
    """Fails its first statement as unavailable, then answers as usual."""

    def __init__(self, codes: set[str]) -> None:
        super().__init__(codes)
        self.failed = False

    async def statement(self, request: StatementRequest) -> StatementAnswer:
        if not self.failed:
            self.failed = True
            self.requests.append(request)
            raise BankUnavailable("down for a moment")
        return await super().statement(request)


async def _order(pool, bank_code: str, kind: str = "freeze"):  # type: ignore[no-untyped-def]
    """The bank's order of ``kind``: its freeze order (the statement), or the stop beside it."""
    return await pool.fetchrow(
        "SELECT status, reason_code, detail, attempts, resolved_at FROM freeze_orders"
        " WHERE bank_code = $1 AND kind = $2",
        bank_code,
        kind,
    )


async def test_a_replica_leaves_the_orders_of_a_bank_another_live_replica_serves(make_app, channel_to, pool) -> None:
    # Replica A serves XBK; its first statement fails and opens XBK's breaker in A for two seconds,
    # so A leaves the orders alone meanwhile (the freeze order, and the stop beside it if its
    # freeze was not out first). Replica B serves no bank and polls all the while: it must give up
    # neither, since A is alive and serves XBK. A then delivers them.
    bank = DownOnceBank({"XBK"})
    await make_app(
        bank_adapters={"XBK": bank}, dispatch=DispatchSettings(**FAST, breaker_threshold=1, breaker_open_s=2.0)
    )
    b = await make_app(dispatch=DispatchSettings(**FAST))
    await channel_to(b).SubmitEntry(simple_request(("XBK", "6222020200001111", 50000)))

    async def settled() -> bool:
        rows = [await _order(pool, "XBK", kind) for kind in ("freeze", "stop")]
        return all(row is not None and row["status"] not in ("queued", "freezing", "pending") for row in rows)

    await eventually(settled, timeout_s=20)
    stop, row = await _order(pool, "XBK", "stop"), await _order(pool, "XBK")
    assert (stop["status"], stop["reason_code"]) == ("held", ""), dict(stop)
    # The statement finds the money asked for by the stop.
    assert (row["status"], row["reason_code"]) == ("moved_on", ""), dict(row)
    # The failed statement, the statement, the stop's freeze.
    assert bank.failed and sorted(type(r).__name__ for r in bank.requests) == [
        "FreezeRequest",
        "StatementRequest",
        "StatementRequest",
    ]
    assert await pool.fetchval("SELECT count(*) FROM case_events WHERE kind = 'order.undeliverable'") == 0


async def test_only_replicas_with_a_dispatcher_register_the_banks_they_serve(make_app, pool) -> None:
    bank = FakeBank({"XBK", "YBK"})
    await make_app(bank_adapters={"XBK": bank, "YBK": bank}, dispatcher=False)
    assert await pool.fetchval("SELECT count(*) FROM dispatch_replicas") == 0
    app = await make_app(bank_adapters={"XBK": bank, "YBK": bank})
    rows = await pool.fetch("SELECT bank_codes, alive_until > now() AS alive FROM dispatch_replicas")
    assert [(r["bank_codes"], r["alive"]) for r in rows] == [(["XBK", "YBK"], True)]
    await app.stop()  # a replica that stops no longer serves its banks
    assert await pool.fetchval("SELECT count(*) FROM dispatch_replicas WHERE alive_until > now()") == 0


async def test_a_bank_served_lately_waits_for_the_deadline_and_one_never_served_is_given_up_at_once(
    make_app,
    channel_to,
    pool,
) -> None:
    # A served XBK and stopped (a restart, say). B serves no bank: it gives up ZZB's orders at once
    # (no replica ever served ZZB), but XBK's only at the delivery deadline, since a replica that
    # serves XBK may be back before then. Each bank has a freeze order and its stop, never sent.
    a = await make_app(bank_adapters={"XBK": FakeBank({"XBK"})})
    await a.stop()
    stopped = await pool.fetchval("SELECT alive_until FROM dispatch_replicas")
    b = await make_app(dispatch=DispatchSettings(**FAST, delivery_deadline_s=6.0))
    await channel_to(b).SubmitEntry(
        simple_request(("XBK", "6222020200001111", 50000), ("ZZB", "6222020200002222", 30000))
    )

    async def given_up(bank_code: str) -> bool:
        rows = [await _order(pool, bank_code, kind) for kind in ("freeze", "stop")]
        return all(row["status"] == "undeliverable" for row in rows)

    await eventually(lambda: given_up("ZZB"))
    for kind in ("freeze", "stop"):
        zzb, xbk = await _order(pool, "ZZB", kind), await _order(pool, "XBK", kind)
        assert zzb["reason_code"] == "NOAD" and "ZZB" in zzb["detail"], kind
        assert (xbk["status"], xbk["attempts"]) == ("queued", 0), kind  # seen by the same give-up, left alone
    await eventually(lambda: given_up("XBK"), timeout_s=20)
    for kind in ("freeze", "stop"):
        xbk = await _order(pool, "XBK", kind)
        assert xbk["reason_code"] == "NOAD" and "XBK" in xbk["detail"], kind
        # Not before the deadline: of the order, or since the last replica serving XBK stopped.
        assert (xbk["resolved_at"] - stopped).total_seconds() >= 6.0, kind
    # Each order was given up once, by one replica.
    assert await pool.fetchval("SELECT count(*) FROM case_events WHERE kind = 'order.undeliverable'") == 4


async def test_list_banks_says_which_banks_a_live_replica_serves(make_app, channel_to) -> None:
    from stopay.v1 import station_pb2

    bank = FakeBank({"XBK", "YBK"})
    a = await make_app(bank_adapters={"XBK": bank, "YBK": bank})
    b = await make_app(bank_adapters={"ZZB": FakeBank({"ZZB"}), "XBK": bank})
    reply = await channel_to(a).ListBanks(station_pb2.ListBanksRequest())
    assert [x.bank_code for x in reply.banks] == ["XBK", "YBK", "ZZB"]  # each once, by code
    await b.stop()  # ZZB is no longer served by anyone
    reply = await channel_to(a).ListBanks(station_pb2.ListBanksRequest())
    assert [x.bank_code for x in reply.banks] == ["XBK", "YBK"]

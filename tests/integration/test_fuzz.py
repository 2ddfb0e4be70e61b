"""Hostile input across every RPC of a running server (tests/hostile.py draws the requests).

No request may end INTERNAL or UNKNOWN; every INVALID_ARGUMENT names the field it refuses in a
google.rpc.BadRequest; the server still answers its health check; and the database holds no partial
case. The counts per status are printed (``pytest -s``) and kept in the assertion messages.

The server is a real one on loopback without TLS, so that every RPC is reachable, with the
simulated network of seed-xue.json and a bank that answers every freeze "pending" (its orders wait
for BankGateway callbacks). The default run sends 10,000 generated requests and 2,880 raw bodies
in about a minute and a half on two cores; ``pytest -m slow`` runs a larger variant.

Hypothesis runs in a thread of its own and hands each batch of requests to the test's event loop,
where the batch is sent at once; a failure is shrunk to a small batch as usual.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg
import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bank_adapters.protocol import AnswerStatus, FreezeAnswer
from stopay.bootstrap import App
from stopay.dispatch.dispatcher import DispatchSettings
from tests import hostile
from tests.conftest import EXAMPLES, AppFactory, eventually
from tests.entries import scenario_requests
from tests.fakebank import FakeBank

BATCH = 40
RAW_EACH = 3  # raw bodies to each of the 16 methods in one batch
# Batches of generated requests and of raw bodies: 10,000 generated and 2,880 raw by default, more
# with ``pytest -m slow``.
SIZES = [pytest.param(250, 60, id="default"), pytest.param(1000, 200, id="large", marks=pytest.mark.slow)]
# UNAVAILABLE too: the database is up throughout, so it would be input taken for an outage, which
# a client retries for ever.
UNARY_S, STREAM_S, STREAM_READ = 10.0, 1.0, 1
FORBIDDEN = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNAVAILABLE)
# A partial case is a case without its transfers or its first event, or a row of a case that is not.
PARTIAL_CASES = """
SELECT 'no transfers' AS problem, c.case_id FROM cases c
 WHERE NOT EXISTS (SELECT 1 FROM entry_transfers t WHERE t.case_id = c.case_id)
UNION ALL SELECT 'no events', c.case_id FROM cases c
 WHERE NOT EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = c.case_id)
UNION ALL SELECT 'no chain head', c.case_id FROM cases c
 WHERE NOT EXISTS (SELECT 1 FROM case_chain_heads h WHERE h.case_id = c.case_id)
UNION ALL SELECT 'transfers do not add up', c.case_id FROM cases c
 WHERE c.reported_minor <> (SELECT coalesce(sum(amount_minor), 0) FROM entry_transfers t WHERE t.case_id = c.case_id)
UNION ALL SELECT 'answer without order', a.case_id FROM bank_answers a
 WHERE NOT EXISTS (SELECT 1 FROM freeze_orders o WHERE (o.case_id, o.order_id) = (a.case_id, a.order_id))
UNION ALL SELECT 'order without case', o.case_id FROM freeze_orders o
 WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE c.case_id = o.case_id)
UNION ALL SELECT 'hold without case', h.case_id FROM holds h
 WHERE NOT EXISTS (SELECT 1 FROM cases c WHERE c.case_id = h.case_id)
UNION ALL SELECT 'owner without case', w.case_id FROM transfer_owners w
 WHERE NOT EXISTS (SELECT 1 FROM entry_transfers t WHERE t.case_id = w.case_id AND t.txn_id = w.txn_id)
"""


class Tally:
    def __init__(self) -> None:
        self.codes: collections.Counter[str] = collections.Counter()
        self.bad: list[str] = []
        self.methods: collections.Counter[str] = collections.Counter()
        self.pairs: collections.Counter[tuple[str, str]] = collections.Counter()

    def __str__(self) -> str:
        return ", ".join(f"{code}: {n}" for code, n in sorted(self.codes.items())) + f" (total {self.total})"

    @property
    def total(self) -> int:
        return sum(self.codes.values())

    def record(self, method: str, what: str, code: grpc.StatusCode, error: grpc.aio.AioRpcError | None) -> None:
        self.codes[code.name] += 1
        self.methods[method] += 1
        self.pairs[(method.rsplit("/", 1)[1], code.name)] += 1
        if code in FORBIDDEN or code == grpc.StatusCode.DEADLINE_EXCEEDED:  # a unary call unanswered in UNARY_S
            self.bad.append(f"{method} {what} -> {code.name}: {error.details() if error else ''}")
        elif code == grpc.StatusCode.INVALID_ARGUMENT and error is not None and not _names_fields(error):
            self.bad.append(f"{method} {what} -> INVALID_ARGUMENT without a field: {error.details()}")


def _names_fields(error: grpc.aio.AioRpcError) -> bool:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    if status is None:
        return False
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            return bool(bad.field_violations) and all(v.field for v in bad.field_violations)
    return False


async def _call(channel: grpc.aio.Channel, method: hostile.Method, body: bytes) -> tuple[grpc.StatusCode, Any]:
    """The status of one call; a stream is read for its first message, then let go (a followed
    case streams until its caller stops, an export of the whole log is long)."""
    try:
        if method.streaming:
            call = channel.unary_stream(method.path)(body, timeout=STREAM_S)
            read = 0
            async for _ in call:
                read += 1
                if read == STREAM_READ:
                    call.cancel()
                    break
        else:
            await channel.unary_unary(method.path)(body, timeout=UNARY_S)
    except grpc.aio.AioRpcError as exc:
        if method.streaming and exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            return grpc.StatusCode.OK, None  # still streaming when the fuzz stopped waiting
        return exc.code(), exc
    return grpc.StatusCode.OK, None


async def _refresh(pool: asyncpg.Pool, known: hostile.Known) -> None:
    known.case_ids[:] = [str(r["case_id"]) for r in await pool.fetch("SELECT case_id FROM cases LIMIT 200")]
    known.order_keys[:] = [
        (str(r["case_id"]), str(r["order_id"]), r["bank_code"])
        for r in await pool.fetch("SELECT case_id, order_id, bank_code FROM freeze_orders ORDER BY random() LIMIT 200")
    ]
    known.pending[:] = [
        (str(r["case_id"]), str(r["order_id"]), r["bank_code"])
        for r in await pool.fetch(
            "SELECT case_id, order_id, bank_code FROM freeze_orders WHERE status = 'pending' LIMIT 200"
        )
    ]
    known.holds[:] = [
        (str(r["case_id"]), r["bank_code"], r["account_number"])
        for r in await pool.fetch("SELECT case_id, bank_code, account_number FROM holds LIMIT 200")
    ]


def _in_loop(loop: asyncio.AbstractEventLoop) -> Callable[[Coroutine[Any, Any, Any]], Any]:
    return lambda coroutine: asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=120)


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples,
        database=None,
        derandomize=True,
        deadline=None,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
    )


@pytest.mark.timeout(1800)
@pytest.mark.parametrize("generated_batches, raw_batches", SIZES)
async def test_hostile_requests_to_every_rpc(
    make_app: AppFactory, pool: asyncpg.Pool, generated_batches: int, raw_batches: int
) -> None:
    pending = FakeBank({hostile.PENDING_BANK})
    pending.on_freeze = lambda request: FreezeAnswer(AnswerStatus.PDCR)
    # Pending orders are asked again once a minute, not every 0.2 s: they pile up as the fuzz goes on.
    dispatch = DispatchSettings(poll_s=0.2, retry_base_s=0.05, retry_cap_s=0.5, pending_recheck_s=60.0)
    app: App = await make_app(
        EXAMPLES / "seed-xue.json", bank_adapters={hostile.PENDING_BANK: pending}, dispatch=dispatch
    )
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}", options=[("grpc.max_send_message_length", -1)])
    known = hostile.Known(entries=scenario_requests(app, EXAMPLES / "seed-xue.json"))
    tally = Tally()
    run = _in_loop(asyncio.get_running_loop())
    for entry in known.entries:
        assert (await _call(channel, hostile.METHODS[0], entry.SerializeToString()))[0] == grpc.StatusCode.OK

    async def some_holds() -> bool:
        await _refresh(pool, known)
        return bool(known.holds)

    await eventually(some_holds, timeout_s=30)

    async def send(batch: list[tuple[hostile.Method, bytes, str]]) -> None:
        results = await asyncio.gather(*(_call(channel, method, body) for method, body, _ in batch))
        for (method, _, what), (code, error) in zip(batch, results, strict=True):
            tally.record(method.path, what, code, error)

    @fuzz(generated_batches)
    @given(st.lists(hostile.requests(known), min_size=BATCH, max_size=BATCH))
    def generated(batch: list) -> None:
        start = len(tally.bad)
        run(send([(method, msg.SerializeToString(), repr(msg)[:300]) for method, msg in batch]))
        if tally.total % (BATCH * 20) == 0:
            run(_refresh(pool, known))
        assert len(tally.bad) == start, [str(tally), *tally.bad[start:]]

    @fuzz(raw_batches)
    @given(st.tuples(*(st.lists(hostile.raw_bodies(m), min_size=RAW_EACH, max_size=RAW_EACH) for m in hostile.METHODS)))
    def raw(bodies: tuple[list[bytes], ...]) -> None:
        start = len(tally.bad)
        run(
            send(
                [
                    (method, body, f"raw {body[:60]!r}")
                    for method, some in zip(hostile.METHODS, bodies, strict=True)
                    for body in some
                ]
            )
        )
        assert len(tally.bad) == start, [str(tally), *tally.bad[start:]]

    try:
        await asyncio.to_thread(generated)
        generated_total = tally.total
        await asyncio.to_thread(raw)
        print(f"\nfuzz: {tally}")
        for method in sorted({m for m, _ in tally.pairs}):
            print(f"  {method}: " + ", ".join(f"{c} {n}" for (m, c), n in sorted(tally.pairs.items()) if m == method))
        assert not tally.bad, "\n".join([str(tally), *tally.bad])
        assert tally.total >= 10_000, str(tally)
        assert set(tally.methods) == {m.path for m in hostile.METHODS}, tally.methods
        assert all(n >= 100 for n in tally.methods.values()), tally.methods  # VerifyLog: raw ones count
        assert generated_total >= 10_000 and tally.codes["OK"] >= 200, str(tally)
        health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert health.status == health_pb2.HealthCheckResponse.SERVING, str(tally)
        partial = await pool.fetch(PARTIAL_CASES)
        assert not partial, [dict(r) for r in partial[:20]]
        assert await pool.fetchval("SELECT count(*) FROM cases") > len(known.entries), str(tally)
    finally:
        await channel.close()

"""A bank's answer that PostgreSQL cannot store as given (a NUL character, control characters, an
amount out of range) never blocks its order: text is recorded with the control characters written
out as escapes, an answer that makes no sense is asked again until the delivery deadline, and an
answer the database refuses for any other reason is given up by that deadline too."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import grpc
import pytest

from bank_adapters.protocol import AnswerStatus, ExitKind, FreezeAnswer, StatementAnswer, StatementLine
from bank_adapters.remote import convert
from bank_adapters.remote.v1 import remote_bank_pb2_grpc
from stopay.dispatch.dispatcher import DispatchSettings
from tests.conftest import eventually
from tests.entries import simple_request
from tests.fakebank import FakeBank
from tests.faults import refuse_bank_reference

FAST = dict(poll_s=0.1, retry_base_s=0.05, retry_cap_s=0.3, pending_recheck_s=0.2)
OPEN = ("queued", "freezing", "pending")


async def _settled_order(pool, kind: str = "freeze"):  # type: ignore[no-untyped-def]
    """Once no order of the case is open: its freeze order (which asks for the statement), or with
    ``kind`` "stop" the stop sent beside it (which asks for the freeze at once)."""

    async def settled() -> bool:
        return await pool.fetchval("SELECT count(*) FROM freeze_orders WHERE status = ANY($1)", list(OPEN)) == 0

    await eventually(settled, timeout_s=20)
    (row,) = await pool.fetch(
        "SELECT status, reason_code, detail, attempts, held_minor FROM freeze_orders"
        " WHERE kind = $1 AND (kind = 'freeze' OR parent_order_id IS NOT NULL)",
        kind,
    )
    return row


async def _references(pool) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Each bank answer's reference as recorded, with the kind of the order it answered."""
    rows = await pool.fetch(
        "SELECT o.kind, a.bank_reference FROM bank_answers a JOIN freeze_orders o USING (case_id, order_id)"
    )
    return sorted((r["kind"], r["bank_reference"]) for r in rows)


async def _submit(make_app, channel_to, bank: FakeBank, **dispatch):  # type: ignore[no-untyped-def]
    app = await make_app(bank_adapters={"NBK": bank}, dispatch=DispatchSettings(**{**FAST, **dispatch}))
    await channel_to(app).SubmitEntry(simple_request(("NBK", "6222020200005555", 70000)))
    return app


async def test_a_nul_in_a_freeze_answer_is_recorded_escaped_and_the_order_is_held(make_app, channel_to, pool) -> None:
    bank = FakeBank({"NBK"})
    bank.on_freeze = lambda r: FreezeAnswer(
        AnswerStatus.ACCR, held_minor=r.amount_minor, bank_reference="REF\x00-7", extra={"detail": "held\x00\x1b[31m"}
    )
    await _submit(make_app, channel_to, bank)
    # The stop asks for the freeze; its freeze order asks for the statement, which shows the money
    # the stop freezes. One request each: no retry.
    stop = await _settled_order(pool, "stop")
    assert (stop["status"], stop["attempts"], stop["held_minor"]) == ("held", 1, 70000)
    assert stop["detail"] == "held\\x00\\x1b[31m"
    order = await _settled_order(pool)
    assert (order["status"], order["attempts"]) == ("moved_on", 1)
    assert await _references(pool) == [("freeze", ""), ("stop", "REF\\x00-7")]


@pytest.mark.parametrize("phase", ["statement", "freeze"])
async def test_a_nul_in_a_reason_code_settles_the_order_as_rejected(make_app, channel_to, pool, phase) -> None:
    bank = FakeBank({"NBK"})
    refusal = dict(reason_code="AC\x0004", bank_reference="\x00")
    if phase == "statement":
        bank.on_statement = lambda r: StatementAnswer(AnswerStatus.RJCR, **refusal)
    else:
        bank.on_freeze = lambda r: FreezeAnswer(AnswerStatus.RJCR, **refusal)
    await _submit(make_app, channel_to, bank)
    # The statement is the freeze order's to ask; the freeze, the stop's.
    row = await _settled_order(pool, "freeze" if phase == "statement" else "stop")
    assert (row["status"], row["reason_code"]) == ("rejected", "AC\\x0004")
    # Every order the bank refused settled so, the code written out the same: a refused stop is
    # asked once more (by a stop of its own once the statement is in, or by its freeze order when
    # the statement comes after), and refused again. A refused statement leaves the stop's hold as
    # it is, nothing being known of the account.
    refused = await pool.fetch(
        "SELECT o.status, o.reason_code FROM freeze_orders o WHERE EXISTS"
        " (SELECT 1 FROM bank_answers a WHERE a.order_id = o.order_id AND a.status_code = 'RJCR')"
    )
    assert [(r["status"], r["reason_code"]) for r in refused] == [("rejected", "AC\\x0004")] * (
        1 if phase == "statement" else 2
    )
    if phase == "statement":
        assert (await _settled_order(pool, "stop"))["status"] == "held"
    assert await pool.fetchval("SELECT count(*) FROM case_events WHERE kind = 'order.retry_scheduled'") == 0


async def test_a_nul_in_a_statement_line_is_traced_all_the_same(make_app, channel_to, pool) -> None:
    bank = FakeBank({"NBK"})

    def statement(request):  # type: ignore[no-untyped-def]
        answer = FakeBank.plain_statement(request)
        assert answer.statement is not None
        credit = answer.statement.lines[0]
        atm = StatementLine(
            seq=1, at=credit.at, kind="debit", amount_minor=20000, txn_id="ATM\x00-1", exit=ExitKind.ATM
        )
        return dataclasses.replace(
            answer, balance_minor=50000, statement=dataclasses.replace(answer.statement, lines=(credit, atm))
        )

    bank.on_statement = statement
    await _submit(make_app, channel_to, bank)
    # The stop holds the 70,000 reported (this bank holds what it is asked); the statement shows
    # 50,000 of the victim's 70,000 still there, the rest gone by the ATM: the 20,000 more is given
    # back, and the account ends holding 50,000.
    stop = await _settled_order(pool, "stop")
    assert (stop["status"], stop["held_minor"]) == ("held", 70000)
    assert (await _settled_order(pool))["status"] == "moved_on"
    release = await pool.fetch("SELECT requested_minor, status FROM freeze_orders WHERE kind = 'release'")
    assert [(r["requested_minor"], r["status"]) for r in release] == [(20000, "released")]
    account = await pool.fetchrow("SELECT left_minor, held_minor FROM trail_accounts")
    assert (account["left_minor"], account["held_minor"]) == (50000, 50000)
    exit_ = await pool.fetchrow("SELECT txn_id, amount_minor FROM trail_exits")
    assert (exit_["txn_id"], exit_["amount_minor"]) == ("ATM\\x00-1", 20000)


async def test_an_amount_out_of_range_is_not_understood_and_the_order_gives_up_by_its_deadline(
    make_app,
    channel_to,
    pool,
) -> None:
    bank = FakeBank({"NBK"})
    bank.on_statement = lambda r: dataclasses.replace(FakeBank.plain_statement(r), balance_minor=2**63)
    await _submit(make_app, channel_to, bank, delivery_deadline_s=1.0)
    row = await _settled_order(pool)
    assert (row["status"], row["reason_code"]) == ("undeliverable", "NOAS")
    assert "balance_minor" in row["detail"]
    # The stop holds meanwhile: nothing is given back before a statement of the account is in.
    assert (await _settled_order(pool, "stop"))["status"] == "held"
    assert await pool.fetchval("SELECT count(*) FROM freeze_orders WHERE kind = 'release'") == 0


async def test_an_answer_the_database_refuses_gives_up_by_the_deadline(make_app, channel_to, pool) -> None:
    # A fault put into the real database: it refuses to store this bank reference, as it refused a
    # NUL. The statement can never be recorded; its order must not be asked for ever.
    await refuse_bank_reference(pool)
    bank = FakeBank({"NBK"})
    bank.on_statement = lambda r: dataclasses.replace(FakeBank.plain_statement(r), bank_reference="unstorable")
    await _submit(make_app, channel_to, bank, delivery_deadline_s=1.0)
    row = await _settled_order(pool)
    assert (row["status"], row["reason_code"]) == ("undeliverable", "NOAS")
    assert "could not be recorded" in row["detail"]
    # The stop's answer was stored; it holds meanwhile, nothing given back before a statement is in.
    assert (await _settled_order(pool, "stop"))["status"] == "held"
    assert await pool.fetchval("SELECT count(*) FROM freeze_orders WHERE kind = 'release'") == 0


class _RemoteFake(remote_bank_pb2_grpc.RemoteBankServicer):
    """A RemoteBank server in front of a FakeBank (the bank side of the wire, faked)."""

    def __init__(self, bank: FakeBank) -> None:
        self.bank = bank

    async def Statement(self, request, context):  # type: ignore[no-untyped-def]
        answer = await self.bank.statement(convert.statement_request_from_message(request))
        return convert.statement_answer_to_message(answer)

    async def Freeze(self, request, context):  # type: ignore[no-untyped-def]
        answer = await self.bank.freeze(convert.freeze_request_from_message(request))
        return convert.freeze_answer_to_message(answer)


@pytest.fixture
async def remote_bank() -> AsyncIterator[tuple[FakeBank, str]]:
    bank = FakeBank({"NBK"})
    server = grpc.aio.server()
    remote_bank_pb2_grpc.add_RemoteBankServicer_to_server(_RemoteFake(bank), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield bank, f"127.0.0.1:{port}"
    await server.stop(None)


async def test_a_remote_bank_answering_with_a_nul_is_held_all_the_same(make_app, channel_to, pool, remote_bank) -> None:
    bank, target = remote_bank
    bank.on_freeze = lambda r: FreezeAnswer(
        AnswerStatus.ACCR, held_minor=r.amount_minor, reason_code="\x00", bank_reference="R\x00\x7f"
    )
    app = await make_app(adapters=(("grpc", {"target": target, "banks": "NBK"}),), dispatch=DispatchSettings(**FAST))
    await channel_to(app).SubmitEntry(simple_request(("NBK", "6222020200005555", 70000)))
    row = await _settled_order(pool, "stop")  # the freeze asked at once; the statement is its freeze order's
    assert (row["status"], row["attempts"], row["reason_code"]) == ("held", 1, "\\x00")
    order = await _settled_order(pool)
    assert (order["status"], order["attempts"]) == ("moved_on", 1)
    assert (
        await pool.fetchval("SELECT bank_reference FROM bank_answers WHERE status_code = 'ACCR' AND held_minor > 0")
        == "R\\x00\\x7f"
    )

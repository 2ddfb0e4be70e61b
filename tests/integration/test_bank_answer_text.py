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


async def _settled_order(pool):  # type: ignore[no-untyped-def]
    async def settled() -> bool:
        return await pool.fetchval("SELECT count(*) FROM freeze_orders WHERE status = ANY($1)", list(OPEN)) == 0

    await eventually(settled, timeout_s=20)
    (row,) = await pool.fetch("SELECT status, reason_code, detail, attempts FROM freeze_orders")
    return row


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
    row = await _settled_order(pool)
    assert (row["status"], row["attempts"]) == ("held", 2)  # the statement, the freeze: no retry
    assert row["detail"] == "held\\x00\\x1b[31m"
    references = await pool.fetch("SELECT bank_reference FROM bank_answers ORDER BY answer_no")
    assert [r["bank_reference"] for r in references] == ["", "REF\\x00-7"]


@pytest.mark.parametrize("phase", ["statement", "freeze"])
async def test_a_nul_in_a_reason_code_settles_the_order_as_rejected(make_app, channel_to, pool, phase) -> None:
    bank = FakeBank({"NBK"})
    refusal = dict(reason_code="AC\x0004", bank_reference="\x00")
    if phase == "statement":
        bank.on_statement = lambda r: StatementAnswer(AnswerStatus.RJCR, **refusal)
    else:
        bank.on_freeze = lambda r: FreezeAnswer(AnswerStatus.RJCR, **refusal)
    await _submit(make_app, channel_to, bank)
    row = await _settled_order(pool)
    assert (row["status"], row["reason_code"]) == ("rejected", "AC\\x0004")
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
    row = await _settled_order(pool)
    assert row["status"] == "partially_held"  # 50,000 of the victim's 70,000 are still there
    assert await pool.fetchval("SELECT held_minor FROM freeze_orders") == 50000
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
    row = await _settled_order(pool)
    assert (row["status"], row["attempts"], row["reason_code"]) == ("held", 2, "\\x00")
    assert (
        await pool.fetchval("SELECT bank_reference FROM bank_answers WHERE status_code = 'ACCR' AND held_minor > 0")
        == "R\\x00\\x7f"
    )

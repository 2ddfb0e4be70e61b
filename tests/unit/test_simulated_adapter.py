"""The simulated adapter answers statements, freezes, extends and returns after each bank's latency
and runs scheduled moves on time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bank_adapters.protocol import (
    Account,
    AnswerStatus,
    BankAdapter,
    ExtendRequest,
    FreezeRequest,
    HoldChange,
    IncomingTransfer,
    ReturnRequest,
    StatementRequest,
)
from bank_adapters.simulated.adapter import create
from bank_adapters.simulated.scenario import parse_scenario
from tests.conftest import eventually

SEED_CHEN = Path(__file__).resolve().parents[2] / "stopay" / "examples" / "seed-chen.json"


CHEN_L1 = Account("BOC", "6216610000000002", "某信息技术有限公司")


def chen_incoming(banks) -> tuple[IncomingTransfer, ...]:
    world = banks.world
    return tuple(
        IncomingTransfer(t, world.scenario.event(t).amount, world.time_of(world.scenario.event(t).at))
        for t in ("CHEN-T1", "CHEN-T2", "CHEN-T3")
    )


def chen_request(banks, key: str) -> FreezeRequest:
    return FreezeRequest(
        idempotency_key=key,
        case_id="c",
        order_id=key,
        level=1,
        account=CHEN_L1,
        amount_minor=11_000_000,
        currency="CNY",
        incoming=chen_incoming(banks),
    )


def chen_statement_request(banks, key: str) -> StatementRequest:
    return StatementRequest(
        idempotency_key=key,
        case_id="c",
        order_id=key,
        level=1,
        account=CHEN_L1,
        currency="CNY",
        incoming=chen_incoming(banks),
    )


async def test_statement_waits_for_the_bank_latency_and_holds_nothing() -> None:
    banks = create({"network": SEED_CHEN})
    assert isinstance(banks, BankAdapter)
    await banks.start()
    try:
        started = time.monotonic()
        answer = await banks.statement(chen_statement_request(banks, "k1"))
        assert time.monotonic() - started >= 0.035  # BOC answers after 35 ms
        assert (answer.status, answer.balance_minor) == (AnswerStatus.ACCR, 11_300_000)
        assert [line.txn_id for line in answer.statement.lines] == ["CHEN-T1", "CHEN-T2", "CHEN-T3"]
        assert banks.world.holds() == {}
        frozen = await banks.freeze(chen_request(banks, "k1"))
        assert (frozen.status, frozen.held_minor) == (AnswerStatus.ACCR, 11_000_000)
        assert frozen.statement == answer.statement
    finally:
        await banks.close()


async def test_freeze_waits_for_the_bank_latency() -> None:
    banks = create({"network": SEED_CHEN})
    await banks.start()
    try:
        started = time.monotonic()
        answer = await banks.freeze(chen_request(banks, "k1"))
        assert time.monotonic() - started >= 0.035  # BOC answers after 35 ms
        assert (answer.status, answer.held_minor) == (AnswerStatus.ACCR, 11_000_000)
        again = await banks.freeze(chen_request(banks, "k1"))
        assert again == answer and banks.world.held("BOC:6216610000000002") == 11_000_000
    finally:
        await banks.close()


async def test_extend_and_return_wait_for_the_bank_latency() -> None:
    banks = create({"network": SEED_CHEN})
    await banks.start()
    try:
        await banks.freeze(chen_request(banks, "k1"))
        extend = ExtendRequest(
            idempotency_key="e1",
            case_id="c",
            order_id="e1",
            account=CHEN_L1,
            amount_minor=11_000_000,
            currency="CNY",
            change=HoldChange.RENEW_STOP,
            until=datetime.now(UTC) + timedelta(hours=48),
        )
        started = time.monotonic()
        extended = await banks.extend(extend)
        assert time.monotonic() - started >= 0.035  # BOC answers after 35 ms
        assert (extended.status, extended.held_minor) == (AnswerStatus.ACCR, 11_000_000)
        victim = banks.world.scenario.ledger[0].from_account
        assert victim is not None
        bank, number = victim.split(":")
        pay = ReturnRequest(
            idempotency_key="p1",
            case_id="c",
            order_id="p1",
            account=CHEN_L1,
            amount_minor=4_000_000,
            currency="CNY",
            beneficiary=Account(bank, number),
        )
        started = time.monotonic()
        paid = await banks.return_funds(pay)
        assert time.monotonic() - started >= 0.035
        assert (paid.status, paid.returned_minor) == (AnswerStatus.ACCR, 4_000_000)
        assert banks.world.held("BOC:6216610000000002") == 7_000_000
    finally:
        await banks.close()


async def test_scheduled_moves_run_in_the_background_until_closed() -> None:
    scenario = parse_scenario(
        {
            "format": "stopay-bank-network/1",
            "name": "moving",
            "currency": "CNY",
            "banks": [{"code": "AAA", "name": "A"}],
            "accounts": [
                {"id": "AAA:100001", "holder": "甲", "opening_balance": 1000},
                {"id": "AAA:100002", "holder": "乙", "opening_balance": 0},
            ],
            "ledger": [
                {"seq": 1, "at": 0.2, "from": "AAA:100001", "to": "AAA:100002", "amount": 700, "txn_id": "M1"},
                {"seq": 2, "at": 30, "from": "AAA:100002", "exit": "ATM", "amount": 700, "txn_id": "M2"},
            ],
        }
    )
    banks = create({"network": scenario, "epoch": datetime.now(UTC)})
    await banks.start()
    try:
        assert banks.world.balance("AAA:100002") == 0

        async def moved() -> bool:  # without any request
            return banks.world.balance("AAA:100002") == 700

        await eventually(moved, timeout_s=5)
        assert banks.world.next_move_at() is not None  # M2 still waits, 30 s away
    finally:
        await banks.close()
    assert banks.world.balance("AAA:100002") == 700


def test_factory_rejects_bad_options() -> None:
    with pytest.raises(ValueError, match="'network'"):
        create({})
    with pytest.raises(ValueError, match="unknown options"):
        create({"network": SEED_CHEN, "netwrok": SEED_CHEN})

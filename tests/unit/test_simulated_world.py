"""The simulated banks verify, show statements, hold, deduplicate, move money on schedule and go
down on outages."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bank_adapters.protocol import (
    Account,
    AnswerStatus,
    BankUnavailable,
    ExitKind,
    ExtendRequest,
    FreezeAnswer,
    FreezeRequest,
    HoldChange,
    IncomingTransfer,
    LegalDocument,
    ReturnRequest,
    StatementAnswer,
    StatementRequest,
)
from bank_adapters.simulated.scenario import Scenario, load_scenario, parse_scenario
from bank_adapters.simulated.world import HoldTerm, World

EXAMPLES = Path(__file__).resolve().parents[2] / "stopay" / "examples"
NOW = datetime(2025, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=8)))

XUE_L1 = "ICBC:6222020200001111111"
XUE_L2 = "ABC:6228480000002222222"
XUE_L3 = "CCB:6217000000003333333"
CHEN_L1 = "BOC:6216610000000002"


def seed(name: str) -> World:
    return World(load_scenario(EXAMPLES / f"{name}.json"), NOW)


def transfer(world: World, txn_id: str, *, amount: int | None = None, shift_s: float = 0) -> IncomingTransfer:
    """The incoming transfer as the ledger describes it (optionally altered)."""
    event = world.scenario.event(txn_id)
    return IncomingTransfer(
        txn_id=txn_id,
        amount_minor=event.amount if amount is None else amount,
        transferred_at=world.time_of(event.at) + timedelta(seconds=shift_s),
    )


def request(
    world: World,
    key: str,
    account_id: str,
    amount: int,
    incoming: tuple[IncomingTransfer, ...],
    holder: str | None = None,
) -> FreezeRequest:
    bank, number = account_id.split(":")
    if holder is None:
        holder = world.scenario.account(account_id).holder
    return FreezeRequest(
        idempotency_key=key,
        case_id="case-1",
        order_id=key,
        level=1,
        account=Account(bank, number, holder),
        amount_minor=amount,
        currency="CNY",
        incoming=incoming,
    )


def freeze(
    world: World, key: str, account_id: str, amount: int, txn_ids: list[str], at: datetime = NOW
) -> FreezeAnswer:
    incoming = tuple(transfer(world, t) for t in txn_ids)
    return world.freeze(request(world, key, account_id, amount, incoming), at)


def statement(
    world: World,
    key: str,
    account_id: str,
    txn_ids: list[str],
    at: datetime = NOW,
    *,
    holder: str | None = None,
    currency: str = "CNY",
    incoming: tuple[IncomingTransfer, ...] | None = None,
) -> StatementAnswer:
    bank, number = account_id.split(":")
    if holder is None:
        known = {a.id: a.holder for a in world.scenario.accounts}
        holder = known.get(account_id, "")
    if incoming is None:
        incoming = tuple(transfer(world, t) for t in txn_ids)
    req = StatementRequest(
        idempotency_key=key,
        case_id="case-1",
        order_id=key,
        level=1,
        account=Account(bank, number, holder),
        currency=currency,
        incoming=incoming,
    )
    return world.statement(req, at)


def test_xue_level_1_holds_what_is_left_and_shows_where_the_rest_went() -> None:
    world = seed("seed-xue")
    answer = freeze(world, "k1", XUE_L1, 58_000_000, ["XUE-T1"])
    assert answer.status is AnswerStatus.PECR
    assert answer.held_minor == 35_000_000
    assert answer.balance_minor == 35_000_000
    assert world.held(XUE_L1) == 35_000_000
    statement = answer.statement
    assert statement is not None and statement.opening_balance_minor == 0
    credit, debit = statement.lines
    assert (credit.kind, credit.txn_id, credit.amount_minor, credit.seq) == ("credit", "XUE-T1", 58_000_000, 1)
    assert credit.counterparty == Account("CQRCB", "6214830000000580", "某科技有限公司")
    assert credit.at == NOW - timedelta(seconds=900)
    assert (debit.kind, debit.txn_id, debit.amount_minor, debit.exit) == ("debit", "XUE-T2", 23_000_000, None)
    assert debit.counterparty == Account("ABC", "6228480000002222222", "李某")


def test_xue_down_the_levels_to_the_atm() -> None:
    world = seed("seed-xue")
    level2 = freeze(world, "k2", XUE_L2, 23_000_000, ["XUE-T2"])
    assert (level2.status, level2.held_minor) == (AnswerStatus.PECR, 21_000_000)
    assert [line.txn_id for line in level2.statement.lines] == ["XUE-T2", "XUE-T3"]
    level3 = freeze(world, "k3", XUE_L3, 2_000_000, ["XUE-T3"])
    assert (level3.status, level3.held_minor, level3.balance_minor) == (AnswerStatus.PECR, 0, 0)
    atm = level3.statement.lines[-1]
    assert (atm.kind, atm.txn_id, atm.exit, atm.counterparty) == ("debit", "XUE-T4", ExitKind.ATM, None)
    assert world.holds() == {XUE_L2: 21_000_000}


def test_chen_three_transfers_held_in_full() -> None:
    world = seed("seed-chen")
    answer = freeze(world, "k1", CHEN_L1, 11_000_000, ["CHEN-T1", "CHEN-T2", "CHEN-T3"])
    assert (answer.status, answer.held_minor, answer.balance_minor) == (AnswerStatus.ACCR, 11_000_000, 11_300_000)
    assert answer.statement.opening_balance_minor == 300_000
    assert [(line.kind, line.txn_id) for line in answer.statement.lines] == [
        ("credit", "CHEN-T1"),
        ("credit", "CHEN-T2"),
        ("credit", "CHEN-T3"),
    ]
    assert world.holds() == {CHEN_L1: 11_000_000}


def test_statement_starts_at_the_earliest_named_transfer() -> None:
    world = seed("seed-chen")
    answer = freeze(world, "k1", CHEN_L1, 3_000_000, ["CHEN-T3", "CHEN-T2"])
    assert answer.statement.opening_balance_minor == 3_300_000  # 300,000 + CHEN-T1
    assert [line.txn_id for line in answer.statement.lines] == ["CHEN-T2", "CHEN-T3"]


def test_resend_gets_the_first_answer_and_holds_nothing_more() -> None:
    world = seed("seed-chen")
    first = freeze(world, "same", CHEN_L1, 5_000_000, ["CHEN-T2"])
    again = freeze(world, "same", CHEN_L1, 5_000_000, ["CHEN-T2"], at=NOW + timedelta(minutes=5))
    assert first.status is AnswerStatus.ACCR and first.held_minor == 5_000_000
    assert again == first
    assert world.held(CHEN_L1) == 5_000_000


def test_two_requests_never_hold_more_than_the_balance() -> None:
    world = seed("seed-chen")
    a = freeze(world, "a", CHEN_L1, 8_000_000, ["CHEN-T2"])
    b = freeze(world, "b", CHEN_L1, 8_000_000, ["CHEN-T2"])
    c = freeze(world, "c", CHEN_L1, 1, ["CHEN-T1"])
    assert (a.status, a.held_minor) == (AnswerStatus.ACCR, 8_000_000)
    assert (b.status, b.held_minor) == (AnswerStatus.PECR, 3_300_000)
    assert (c.status, c.held_minor) == (AnswerStatus.PECR, 0)
    assert world.held(CHEN_L1) == world.balance(CHEN_L1) == 11_300_000


def test_holder_name_mismatch_is_rejected_but_an_empty_name_is_not_checked() -> None:
    world = seed("seed-xue")
    incoming = (transfer(world, "XUE-T1"),)
    wrong = world.freeze(request(world, "k1", XUE_L1, 1000, incoming, holder="张三"), NOW)
    assert (wrong.status, wrong.reason_code, wrong.held_minor) == (AnswerStatus.RJCR, "BE01", 0)
    assert world.held(XUE_L1) == 0
    blank = world.freeze(request(world, "k2", XUE_L1, 1000, incoming, holder=""), NOW)
    assert (blank.status, blank.held_minor) == (AnswerStatus.ACCR, 1000)


@pytest.mark.parametrize(
    "incoming_of",
    [
        lambda w: transfer(w, "XUE-T1", amount=57_999_999),
        lambda w: transfer(w, "XUE-T1", shift_s=121),
        lambda w: transfer(w, "XUE-T1", shift_s=-121),
        lambda w: transfer(w, "XUE-T2"),  # real, but it left this account rather than credited it
        lambda w: IncomingTransfer("NO-SUCH", 58_000_000, NOW - timedelta(seconds=900)),
    ],
    ids=["amount", "time-late", "time-early", "wrong-direction", "unknown-txn"],
)
def test_incoming_transfer_mismatch_is_rejected(incoming_of: Any) -> None:
    world = seed("seed-xue")
    answer = world.freeze(request(world, "k", XUE_L1, 1000, (incoming_of(world),)), NOW)
    assert (answer.status, answer.reason_code, answer.held_minor) == (AnswerStatus.RJCR, "NOOR", 0)
    assert world.holds() == {}


def test_time_within_tolerance_is_accepted_and_tolerance_is_configurable() -> None:
    world = seed("seed-xue")
    near = transfer(world, "XUE-T1", shift_s=119)
    assert world.freeze(request(world, "k", XUE_L1, 1000, (near,)), NOW).held_minor == 1000
    strict = World(load_scenario(EXAMPLES / "seed-xue.json"), NOW, time_tolerance_s=10)
    answer = strict.freeze(request(strict, "k", XUE_L1, 1000, (near,)), NOW)
    assert answer.reason_code == "NOOR"


def test_unknown_account_is_rejected() -> None:
    world = seed("seed-xue")
    incoming = (transfer(world, "XUE-T1"),)
    for key, account_id in [("k1", "ICBC:6222020200009999999"), ("k2", "HSBC:6222020200001111111")]:
        bank, number = account_id.split(":")
        req = FreezeRequest(
            idempotency_key=key,
            case_id="c",
            order_id=key,
            level=1,
            account=Account(bank, number),
            amount_minor=1000,
            currency="CNY",
            incoming=incoming,
        )
        answer = world.freeze(req, NOW)
        assert (answer.status, answer.reason_code) == (AnswerStatus.RJCR, "AC01")


def scheduled(outages: list[list[float]] | None = None) -> Scenario:
    """A gets 1,000 at -60; at +30 A tries to pay B 800; at +40 A tries to withdraw 500."""
    bank_b: dict[str, Any] = {"code": "BBB", "name": "Bank B"}
    if outages:
        bank_b["outages"] = outages
    return parse_scenario(
        {
            "format": "stopay-bank-network/1",
            "name": "scheduled",
            "currency": "CNY",
            "epoch": NOW.isoformat(),
            "banks": [{"code": "AAA", "name": "Bank A"}, bank_b],
            "accounts": [
                {"id": "AAA:100001", "holder": "甲", "opening_balance": 0},
                {"id": "BBB:200002", "holder": "乙", "opening_balance": 0},
            ],
            "ledger": [
                {"seq": 1, "at": -60, "from": None, "to": "AAA:100001", "amount": 1000, "txn_id": "D1"},
                {"seq": 2, "at": 30, "from": "AAA:100001", "to": "BBB:200002", "amount": 800, "txn_id": "M1"},
                {"seq": 3, "at": 40, "from": "AAA:100001", "exit": "CASH", "amount": 500, "txn_id": "M2"},
            ],
        }
    )


def test_scheduled_moves_happen_on_time_and_move_only_what_is_not_held() -> None:
    world = World(scheduled(), NOW - timedelta(hours=1))  # created early: the epoch is the file's
    assert world.epoch == NOW
    assert world.next_move_at() == NOW + timedelta(seconds=30)
    first = freeze(world, "k1", "AAA:100001", 600, ["D1"], at=NOW + timedelta(seconds=10))
    assert (first.status, first.held_minor) == (AnswerStatus.ACCR, 600)
    assert first.statement.lines[0].counterparty is None  # own money from outside
    assert world.advance(NOW + timedelta(seconds=29.9)) == []
    assert (world.balance("AAA:100001"), world.balance("BBB:200002")) == (1000, 0)
    moved = world.advance(NOW + timedelta(seconds=30))
    assert [(m.event.txn_id, m.amount) for m in moved] == [("M1", 400)]
    assert (world.balance("AAA:100001"), world.balance("BBB:200002")) == (600, 400)
    assert world.advance(NOW + timedelta(seconds=45)) == []  # nothing free for the withdrawal
    assert world.movement("M2") is None and world.next_move_at() is None
    assert world.balance("AAA:100001") == world.held("AAA:100001") == 600
    # B verifies the transfer by what actually arrived
    planned = freeze(world, "k2", "BBB:200002", 800, ["M1"], at=NOW + timedelta(seconds=50))
    assert planned.reason_code == "NOOR"
    actual = IncomingTransfer("M1", 400, NOW + timedelta(seconds=30))
    got = world.freeze(request(world, "k3", "BBB:200002", 400, (actual,)), NOW + timedelta(seconds=50))
    assert (got.status, got.held_minor) == (AnswerStatus.ACCR, 400)


def test_a_move_not_yet_due_cannot_be_named() -> None:
    world = World(scheduled(), NOW)
    early = world.freeze(request(world, "k", "BBB:200002", 800, (transfer(world, "M1"),)), NOW + timedelta(seconds=5))
    assert early.reason_code == "NOOR"


def test_freeze_applies_due_moves_first() -> None:
    world = World(scheduled(), NOW)
    answer = freeze(world, "k", "AAA:100001", 1000, ["D1"], at=NOW + timedelta(seconds=35))
    assert (answer.status, answer.held_minor, answer.balance_minor) == (AnswerStatus.PECR, 200, 200)
    assert [line.txn_id for line in answer.statement.lines] == ["D1", "M1"]


def test_outage_refuses_every_request_while_it_lasts() -> None:
    world = World(scheduled(outages=[[10, 20]]), NOW)
    world.advance(NOW + timedelta(seconds=30))
    req = request(world, "k", "BBB:200002", 800, (transfer(world, "M1"),))
    with pytest.raises(BankUnavailable):
        world.freeze(req, NOW + timedelta(seconds=10))
    with pytest.raises(BankUnavailable):
        world.freeze(req, NOW + timedelta(seconds=19.5))
    assert world.held("BBB:200002") == 0
    # the other bank is up at the same moment
    assert freeze(world, "a", "AAA:100001", 1, ["D1"], at=NOW + timedelta(seconds=15)).held_minor == 1
    after = world.freeze(req, NOW + timedelta(seconds=35))
    assert (after.status, after.held_minor) == (AnswerStatus.ACCR, 800)


def test_epoch_override_and_default() -> None:
    other = NOW + timedelta(days=1)
    assert World(scheduled(), NOW, epoch=other).epoch == other
    assert seed("seed-chen").epoch == NOW  # no epoch in the file: the moment of creation
    with pytest.raises(ValueError):
        World(scheduled(), datetime(2025, 3, 1))


# ---- statements ---------------------------------------------------------------------------------


def test_statement_of_xue_level_1_shows_the_money_and_where_it_went() -> None:
    world = seed("seed-xue")
    answer = statement(world, "s1", XUE_L1, ["XUE-T1"])
    assert (answer.status, answer.reason_code, answer.balance_minor) == (AnswerStatus.ACCR, "", 35_000_000)
    assert answer.bank_reference.startswith("SIM-ICBC-")
    assert answer.statement is not None and answer.statement.opening_balance_minor == 0
    credit, debit = answer.statement.lines
    assert (credit.kind, credit.txn_id, credit.amount_minor, credit.seq, credit.at) == (
        "credit",
        "XUE-T1",
        58_000_000,
        1,
        NOW - timedelta(seconds=900),
    )
    assert credit.counterparty == Account("CQRCB", "6214830000000580", "某科技有限公司")
    assert (debit.kind, debit.txn_id, debit.amount_minor, debit.exit) == ("debit", "XUE-T2", 23_000_000, None)
    assert debit.counterparty == Account("ABC", "6228480000002222222", "李某")


def test_a_statement_holds_nothing_and_matches_the_freeze_statement() -> None:
    world = seed("seed-xue")
    shown = statement(world, "k1", XUE_L1, ["XUE-T1"])
    assert world.holds() == {}
    # the freeze that follows (same key: a statement does not take it) holds as usual
    frozen = freeze(world, "k1", XUE_L1, 35_000_000, ["XUE-T1"])
    assert (frozen.status, frozen.held_minor) == (AnswerStatus.ACCR, 35_000_000)
    assert frozen.statement == shown.statement
    # a statement after the freeze still shows the balance, held or not, and holds nothing more
    again = statement(world, "k1", XUE_L1, ["XUE-T1"])
    assert (again.status, again.balance_minor, again.statement) == (AnswerStatus.ACCR, 35_000_000, shown.statement)
    assert world.holds() == {XUE_L1: 35_000_000}


def test_statement_starts_at_the_earliest_named_transfer_like_a_freeze() -> None:
    world = seed("seed-chen")
    answer = statement(world, "s", CHEN_L1, ["CHEN-T3", "CHEN-T2"])
    assert answer.statement.opening_balance_minor == 3_300_000
    assert [line.txn_id for line in answer.statement.lines] == ["CHEN-T2", "CHEN-T3"]
    assert answer.balance_minor == 11_300_000


@pytest.mark.parametrize(
    "call, reason",
    [
        (lambda w: statement(w, "s", "ICBC:6222020200009999999", ["XUE-T1"]), "AC01"),
        (lambda w: statement(w, "s", "HSBC:6222020200001111111", ["XUE-T1"]), "AC01"),
        (lambda w: statement(w, "s", XUE_L1, ["XUE-T1"], holder="张三"), "BE01"),
        (lambda w: statement(w, "s", XUE_L1, ["XUE-T1"], currency="USD"), "AM03"),
        (lambda w: statement(w, "s", XUE_L1, [], incoming=()), "NOOR"),
        (lambda w: statement(w, "s", XUE_L1, [], incoming=(transfer(w, "XUE-T1", amount=57_999_999),)), "NOOR"),
        (lambda w: statement(w, "s", XUE_L1, [], incoming=(transfer(w, "XUE-T1", shift_s=121),)), "NOOR"),
        (lambda w: statement(w, "s", XUE_L1, ["XUE-T2"]), "NOOR"),  # left the account, not credited
        (lambda w: statement(w, "s", XUE_L1, ["XUE-T1", "XUE-T3"]), "NOOR"),  # one of two is wrong
    ],
    ids=[
        "unknown-number",
        "unknown-bank",
        "holder",
        "currency",
        "none-named",
        "amount",
        "time",
        "wrong-direction",
        "one-of-two",
    ],
)
def test_statement_rejections_use_the_freeze_codes(call: Any, reason: str) -> None:
    world = seed("seed-xue")
    answer = call(world)
    assert (answer.status, answer.reason_code, answer.statement, answer.balance_minor) == (
        AnswerStatus.RJCR,
        reason,
        None,
        None,
    )
    assert answer.extra["detail"]
    assert world.holds() == {}


def test_statement_and_freeze_reject_alike() -> None:
    world = seed("seed-xue")
    bad = (transfer(world, "XUE-T1", amount=1),)
    shown = statement(world, "s", XUE_L1, [], incoming=bad)
    frozen = world.freeze(request(world, "f", XUE_L1, 1000, bad), NOW)
    assert (shown.reason_code, shown.extra) == (frozen.reason_code, frozen.extra)


def test_statement_resend_is_answered_afresh_and_sees_moves_since() -> None:
    world = World(scheduled(), NOW)
    before = statement(world, "same", "AAA:100001", ["D1"], at=NOW + timedelta(seconds=10))
    assert [line.txn_id for line in before.statement.lines] == ["D1"]
    assert before.balance_minor == 1000
    after = statement(world, "same", "AAA:100001", ["D1"], at=NOW + timedelta(seconds=35))
    assert [line.txn_id for line in after.statement.lines] == ["D1", "M1"]
    assert after.balance_minor == 200
    assert after.bank_reference != before.bank_reference
    assert world.holds() == {}


def test_statement_is_refused_during_an_outage() -> None:
    world = World(scheduled(outages=[[10, 20]]), NOW)
    with pytest.raises(BankUnavailable):
        statement(world, "s", "BBB:200002", ["M1"], at=NOW + timedelta(seconds=15))
    ok = statement(world, "s", "AAA:100001", ["D1"], at=NOW + timedelta(seconds=15))
    assert ok.status is AnswerStatus.ACCR
    # after the outage, once M1 has happened, B shows it
    actual = IncomingTransfer("M1", 800, NOW + timedelta(seconds=30))
    later = statement(world, "s", "BBB:200002", [], at=NOW + timedelta(seconds=31), incoming=(actual,))
    assert (later.status, later.balance_minor) == (AnswerStatus.ACCR, 800)
    with pytest.raises(ValueError):
        statement(world, "s", "AAA:100001", ["D1"], at=datetime(2025, 3, 1, 10, 1))


def test_release_gives_back_held_money_once() -> None:
    from bank_adapters.protocol import Account, ReleaseRequest

    world = seed("seed-chen")
    assert freeze(world, "f-1", CHEN_L1, 11000000, ["CHEN-T1", "CHEN-T2", "CHEN-T3"]).held_minor == 11000000
    bank, number = CHEN_L1.split(":")
    request = ReleaseRequest(
        idempotency_key="r-1",
        case_id="case-1",
        order_id="r-1",
        account=Account(bank, number, ""),
        amount_minor=3000000,
        currency="CNY",
    )
    answer = world.release(request, NOW)
    assert (answer.status, answer.released_minor) == (AnswerStatus.ACCR, 3000000)
    assert world.release(request, NOW) == answer  # a resend releases nothing more
    assert world.held(CHEN_L1) == 8000000
    too_much = ReleaseRequest(
        idempotency_key="r-2",
        case_id="case-1",
        order_id="r-2",
        account=Account(bank, number, ""),
        amount_minor=99000000,
        currency="CNY",
    )
    assert world.release(too_much, NOW).released_minor == 8000000  # never more than is held
    assert world.held(CHEN_L1) == 0
    unknown = ReleaseRequest(
        idempotency_key="r-3",
        case_id="case-1",
        order_id="r-3",
        account=Account("BOC", "999999999", ""),
        amount_minor=1,
        currency="CNY",
    )
    assert (world.release(unknown, NOW).status, world.release(unknown, NOW).reason_code) == (AnswerStatus.RJCR, "AC01")


# ---- extends and returns ------------------------------------------------------------------------


def account_of(world: World, account_id: str, holder: str | None = None) -> Account:
    bank, number = account_id.split(":")
    known = {a.id: a.holder for a in world.scenario.accounts}
    return Account(bank, number, known.get(account_id, "") if holder is None else holder)


def extend_request(
    world: World,
    key: str,
    account_id: str,
    amount: int,
    change: HoldChange = HoldChange.RENEW_STOP,
    until: datetime = NOW + timedelta(hours=48),
    **kw: Any,
) -> ExtendRequest:
    kw.setdefault("currency", "CNY")
    return ExtendRequest(
        idempotency_key=key,
        case_id="case-1",
        order_id=key,
        account=account_of(world, account_id),
        amount_minor=amount,
        change=change,
        until=until,
        **kw,
    )


def return_request(
    world: World, key: str, account_id: str, amount: int, beneficiary: Account, **kw: Any
) -> ReturnRequest:
    kw.setdefault("currency", "CNY")
    return ReturnRequest(
        idempotency_key=key,
        case_id="case-1",
        order_id=key,
        account=account_of(world, account_id),
        amount_minor=amount,
        beneficiary=beneficiary,
        **kw,
    )


XUE_VICTIM = "CQRCB:6214830000000580"


def test_an_extend_keeps_at_most_what_is_held_and_remembers_the_latest_term() -> None:
    world = seed("seed-xue")
    assert freeze(world, "f1", XUE_L1, 35_000_000, ["XUE-T1"]).held_minor == 35_000_000
    renew = extend_request(world, "e1", XUE_L1, 30_000_000)
    first = world.extend(renew, NOW)
    assert (first.status, first.held_minor, first.reason_code) == (AnswerStatus.ACCR, 30_000_000, "")
    assert world.hold_until(XUE_L1) == HoldTerm(NOW + timedelta(hours=48), HoldChange.RENEW_STOP)
    document = LegalDocument("渝公冻字[2025]001号", "王局长", 35_000_000, "account", False)
    until = NOW + timedelta(days=182)
    formal = world.extend(
        extend_request(world, "e2", XUE_L1, 99_000_000, HoldChange.FORMAL_FREEZE, until, document=document),
        NOW + timedelta(hours=1),
    )
    assert (formal.status, formal.held_minor) == (AnswerStatus.ACCR, 35_000_000)  # no more than held
    assert world.hold_until(XUE_L1) == HoldTerm(until, HoldChange.FORMAL_FREEZE)
    # a resend of the first extend gets its answer and changes nothing, not even the term
    assert world.extend(renew, NOW + timedelta(hours=2)) == first
    assert world.hold_until(XUE_L1) == HoldTerm(until, HoldChange.FORMAL_FREEZE)
    assert world.holds() == {XUE_L1: 35_000_000}


def test_an_extend_where_nothing_is_held_keeps_nothing_and_sets_no_term() -> None:
    world = seed("seed-xue")
    answer = world.extend(extend_request(world, "e1", XUE_L2, 1000), NOW)
    assert (answer.status, answer.held_minor) == (AnswerStatus.ACCR, 0)
    assert world.hold_until(XUE_L2) is None and world.holds() == {}


@pytest.mark.parametrize(
    "change, reason",
    [
        (dict(account_id="ICBC:6222020200009999999"), "AC01"),
        (dict(holder="张三"), "BE01"),
        (dict(currency="USD"), "AM03"),
        (dict(amount=0), "AM12"),
    ],
    ids=["unknown", "holder", "currency", "amount"],
)
def test_extends_and_returns_check_the_account_like_a_freeze(change: dict[str, Any], reason: str) -> None:
    world = seed("seed-xue")
    assert freeze(world, "f1", XUE_L1, 35_000_000, ["XUE-T1"]).held_minor == 35_000_000
    account_id = change.get("account_id", XUE_L1)
    amount = change.get("amount", 1000)
    currency = change.get("currency", "CNY")
    extend = extend_request(world, "e1", account_id, amount, currency=currency)
    pay = return_request(world, "p1", account_id, amount, account_of(world, XUE_VICTIM), currency=currency)
    if "holder" in change:
        extend = dataclasses.replace(extend, account=account_of(world, account_id, change["holder"]))
        pay = dataclasses.replace(pay, account=account_of(world, account_id, change["holder"]))
    extended, paid = world.extend(extend, NOW), world.return_funds(pay, NOW)
    assert (extended.status, extended.held_minor, extended.reason_code) == (AnswerStatus.RJCR, 0, reason)
    assert (paid.status, paid.returned_minor, paid.reason_code) == (AnswerStatus.RJCR, 0, reason)
    assert world.holds() == {XUE_L1: 35_000_000} and world.balance(XUE_L1) == 35_000_000
    assert world.hold_until(XUE_L1) is None


def test_a_return_pays_the_victim_out_of_the_hold_once() -> None:
    world = seed("seed-xue")
    victim_before = world.balance(XUE_VICTIM)
    assert freeze(world, "f1", XUE_L1, 30_000_000, ["XUE-T1"]).held_minor == 30_000_000
    pay = return_request(world, "p1", XUE_L1, 20_000_000, account_of(world, XUE_VICTIM))
    first = world.return_funds(pay, NOW + timedelta(minutes=1))
    assert (first.status, first.returned_minor, first.reason_code) == (AnswerStatus.ACCR, 20_000_000, "")
    assert world.return_funds(pay, NOW + timedelta(minutes=2)) == first  # a resend pays nothing more
    assert (world.balance(XUE_L1), world.held(XUE_L1)) == (15_000_000, 10_000_000)
    assert world.balance(XUE_VICTIM) == victim_before + 20_000_000
    # never more than is held; the 5,000,000 that is not held stays
    rest = world.return_funds(
        return_request(world, "p2", XUE_L1, 99_000_000, account_of(world, XUE_VICTIM)), NOW + timedelta(minutes=3)
    )
    assert (rest.status, rest.returned_minor) == (AnswerStatus.ACCR, 10_000_000)
    assert (world.balance(XUE_L1), world.held(XUE_L1)) == (5_000_000, 0)
    nothing = world.return_funds(
        return_request(world, "p3", XUE_L1, 1, account_of(world, XUE_VICTIM)), NOW + timedelta(minutes=4)
    )
    assert (nothing.status, nothing.returned_minor) == (AnswerStatus.ACCR, 0)
    assert world.balance(XUE_VICTIM) == victim_before + 30_000_000
    # later statements show the returns as debits to the victim, and still add up
    later = statement(world, "s1", XUE_L1, ["XUE-T1"], at=NOW + timedelta(minutes=5))
    assert later.balance_minor == 5_000_000
    lines = later.statement.lines
    assert [(line.kind, line.txn_id, line.amount_minor) for line in lines] == [
        ("credit", "XUE-T1", 58_000_000),
        ("debit", "XUE-T2", 23_000_000),
        ("debit", first.bank_reference, 20_000_000),
        ("debit", rest.bank_reference, 10_000_000),
    ]
    assert lines[2].counterparty == account_of(world, XUE_VICTIM) and lines[2].exit is None
    assert lines[2].at == NOW + timedelta(minutes=1)
    assert [line.seq for line in lines] == sorted({line.seq for line in lines})
    signed = sum(line.amount_minor if line.kind == "credit" else -line.amount_minor for line in lines)
    assert later.statement.opening_balance_minor + signed == later.balance_minor
    assert world.movement(first.bank_reference).amount == 20_000_000
    # and a freeze of what is left still verifies and holds it
    again = freeze(world, "f2", XUE_L1, 58_000_000, ["XUE-T1"], at=NOW + timedelta(minutes=5))
    assert (again.status, again.held_minor, again.balance_minor) == (AnswerStatus.PECR, 5_000_000, 5_000_000)


def test_a_return_to_an_account_outside_the_scenario_leaves_the_network() -> None:
    world = seed("seed-chen")
    assert freeze(world, "f1", CHEN_L1, 11_000_000, ["CHEN-T1", "CHEN-T2", "CHEN-T3"]).held_minor == 11_000_000
    total = sum(world.balance(a.id) for a in world.scenario.accounts)
    outside = Account("ICBC", "6222000000000077", "陈某")
    paid = world.return_funds(return_request(world, "p1", CHEN_L1, 11_000_000, outside), NOW)
    assert (paid.status, paid.returned_minor) == (AnswerStatus.ACCR, 11_000_000)
    assert sum(world.balance(a.id) for a in world.scenario.accounts) == total - 11_000_000
    later = statement(world, "s1", CHEN_L1, ["CHEN-T1"])
    assert later.statement.lines[-1].counterparty == outside
    assert later.balance_minor == world.balance(CHEN_L1) == 300_000


def test_extends_and_returns_are_refused_during_an_outage() -> None:
    world = World(scheduled(outages=[[50, 60]]), NOW)
    # by +45 B got 800 (M1) and A's 200 left went out as cash (M2)
    assert freeze(world, "f1", "BBB:200002", 800, ["M1"], at=NOW + timedelta(seconds=45)).held_minor == 800
    during, after = NOW + timedelta(seconds=55), NOW + timedelta(seconds=65)
    extend = extend_request(world, "e1", "BBB:200002", 800)
    pay = return_request(world, "p1", "BBB:200002", 800, account_of(world, "AAA:100001"))
    with pytest.raises(BankUnavailable):
        world.extend(extend, during)
    with pytest.raises(BankUnavailable):
        world.return_funds(pay, during)
    assert world.held("BBB:200002") == 800 and world.hold_until("BBB:200002") is None
    assert world.balance("AAA:100001") == 0
    assert world.extend(extend, after).held_minor == 800
    assert world.return_funds(pay, after).returned_minor == 800
    assert (world.balance("BBB:200002"), world.balance("AAA:100001")) == (0, 800)


def test_a_return_before_a_scheduled_move_keeps_statements_in_time_order() -> None:
    world = World(scheduled(), NOW)
    assert freeze(world, "f1", "AAA:100001", 300, ["D1"], at=NOW + timedelta(seconds=5)).held_minor == 300
    paid = world.return_funds(
        return_request(world, "p1", "AAA:100001", 300, account_of(world, "BBB:200002")), NOW + timedelta(seconds=10)
    )
    assert paid.returned_minor == 300
    world.advance(NOW + timedelta(seconds=45))  # M1 moves the 700 left; nothing left for M2
    answer = statement(world, "s1", "AAA:100001", ["D1"], at=NOW + timedelta(seconds=45))
    assert [(line.txn_id, line.amount_minor) for line in answer.statement.lines] == [
        ("D1", 1000),
        (paid.bank_reference, 300),
        ("M1", 700),
    ]
    assert [line.at for line in answer.statement.lines] == sorted(line.at for line in answer.statement.lines)
    assert answer.balance_minor == 0 and world.balance("BBB:200002") == 1000

"""Hand-made bank networks for tests: one bank, accounts by short name, moves in order."""

from __future__ import annotations

from typing import Any

from bank_adapters.simulated.scenario import Scenario, parse_scenario

EXITS = {"CASH", "ATM", "MERCHANT", "CRYPTO", "CROSS_BORDER", "THIRD_PARTY_PAYMENT"}


def acct(name: str) -> str:
    return f"BK:ACCOUNT{name}"


def world(
    opening: dict[str, int], moves: list[tuple[str | None, str, int, str]], checks: list[dict[str, Any]]
) -> Scenario:
    return parse_scenario(world_data(opening, moves, checks))


def world_data(
    opening: dict[str, int], moves: list[tuple[str | None, str, int, str]], checks: list[dict[str, Any]]
) -> dict[str, Any]:
    """The scenario as JSON-ready data: moves ``(from, to or exit, amount, txn_id)`` 10 s apart."""
    ledger = []
    for i, (src, dst, amount, txn) in enumerate(moves):
        event: dict[str, Any] = {
            "seq": i + 1,
            "at": -1000 + 10 * i,
            "from": None if src is None else acct(src),
            "amount": amount,
            "txn_id": txn,
        }
        if dst in EXITS:
            event["exit"] = dst
        else:
            event["to"] = acct(dst)
        ledger.append(event)
    return {
        "format": "stopay-bank-network/1",
        "name": "hand-made",
        "currency": "CNY",
        "banks": [{"code": "BK", "name": "Bank"}],
        "accounts": [{"id": acct(n), "holder": f"holder {n}", "opening_balance": b} for n, b in opening.items()],
        "ledger": ledger,
        "checks": checks,
    }


def check(
    name: str,
    rule: str,
    entries: list[list[str]],
    held: dict[str, int],
    exited: int | None = None,
    max_depth: int = 5,
    min_amount: int = 0,
) -> dict[str, Any]:
    expect: dict[str, Any] = {"held": {acct(n): v for n, v in held.items()}}
    if exited is not None:
        expect["exited"] = exited
    return {
        "name": name,
        "rule": rule,
        "max_depth": max_depth,
        "min_amount": min_amount,
        "entries": [{"victim": f"victim {i}", "transfers": t} for i, t in enumerate(entries)],
        "expect": expect,
    }

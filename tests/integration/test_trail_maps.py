"""What a case knows of an account's transfers (trail_accounts.incoming and sent) is written as what
changed since the row was locked, and always reads back as the whole maps the batch left."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from stopay.api.validation import entry_from_request
from stopay.domain.accounts import CaseAccount
from stopay.domain.clock import SYSTEM_CLOCK
from stopay.domain.holds import HoldPolicy
from stopay.domain.trail import Limits
from stopay.store import entries
from stopay.store.trail import AccountChange, AccountToLock, TrailChanges, trail_transaction
from tests.entries import simple_request

MULE = ("ICBC", "6222020200009999999")


def item(txn: str, amount: int) -> dict[str, Any]:
    return {"txn_id": txn, "amount_minor": amount, "at": "2025-03-01T10:00:00+08:00", "parts": [["L1", amount]]}


async def write(pool, case_id, incoming: dict[str, Any], sent: dict[str, Any], *, lock: bool = True) -> None:
    """One batch that locks the account's row (or not) and leaves these maps."""
    key = CaseAccount(case_id, *MULE)
    async with trail_transaction(pool, None, "test", HoldPolicy()) as tx:
        rows: dict[CaseAccount, Any] = {}
        if lock:
            rows, _ = await tx.lock([AccountToLock(case_id, *MULE, "某公司", 1)], [])
        rev = rows[key].rev + 1 if lock else 99
        change = AccountChange(case_id, *MULE, incoming, sent, rev, 0, 0, 0, 0, 1, None, None, None, 0)
        await tx.apply(TrailChanges(accounts=[change]))


async def stored(pool, case_id) -> tuple[dict[str, Any], dict[str, Any]]:
    row = await pool.fetchrow(
        "SELECT incoming, sent FROM trail_accounts WHERE case_id = $1 AND bank_code = $2 AND account_number = $3",
        case_id,
        *MULE,
    )
    return row["incoming"], row["sent"]


async def test_the_maps_read_back_whole_after_each_batch(pool) -> None:
    entry = entry_from_request(simple_request((*MULE, 5000)), SYSTEM_CLOCK.now())
    case_id, _ = await entries.submit_entry(pool, entry, Limits(), "test")
    steps = [
        ({"T1": item("T1", 100)}, {}),  # a first transfer known
        ({"T1": item("T1", 100), "T2": item("T2", 200)}, {"D1": [["L2", 50]]}),  # one more, a first debit
        ({"T1": item("T1", 100), "T2": item("T2", 200)}, {"D1": [["L2", 50]]}),  # nothing changed
        ({"T1": item("T1", 150), "T3": item("T3", 5)}, {"D2": [["L2", 7]]}),  # changed, added, gone
        ({}, {}),  # everything gone
        ({"T9": item("T9", 1)}, {"D9": [["L3", 1]]}),
    ]
    for incoming, sent in steps:
        await write(pool, case_id, incoming, sent)
        assert await stored(pool, case_id) == (incoming, sent)
    # A change of a row this transaction did not lock is written whole, as it is.
    await write(pool, case_id, {"T5": item("T5", 5)}, {}, lock=False)
    assert await stored(pool, case_id) == ({"T5": item("T5", 5)}, {})


async def test_only_what_changed_is_sent(pool) -> None:
    entry = entry_from_request(simple_request((*MULE, 5000)), SYSTEM_CLOCK.now())
    case_id, _ = await entries.submit_entry(pool, entry, Limits(), "test")
    big = {f"T{n}": item(f"T{n}", n) for n in range(300)}  # a hub account's transfers
    await write(pool, case_id, big, {"D1": [["L2", 1]]})
    sent: list[AccountChange] = []
    async with trail_transaction(pool, None, "test", HoldPolicy()) as tx:
        rows, _ = await tx.lock([AccountToLock(case_id, *MULE, "某公司", 1)], [])
        row = rows[CaseAccount(case_id, *MULE)]
        change = AccountChange(
            case_id,
            *MULE,
            {**row.incoming, "T300": item("T300", 300)},
            {},
            row.rev + 1,
            0,
            0,
            0,
            0,
            1,
            None,
            None,
            None,
            0,
        )
        sent.append(tx._changed(change))
        await tx.apply(TrailChanges(accounts=[change]))
    assert sent == [replace(change, incoming={"T300": item("T300", 300)}, sent={}, sent_gone=["D1"], whole=False)]
    assert await stored(pool, case_id) == ({**big, "T300": item("T300", 300)}, {})

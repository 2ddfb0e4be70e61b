"""The station's desk while a submission is under way, against a real stopay whose SubmitEntry is
held back by a lock on the cases table: what the victim confirmed is what is sent, and the answer
belongs to the draft that was sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import grpc
import pytest

from stopay.station.desk import Desk
from stopay.station.draft import TRANSFER_FIELDS, Check, DraftError
from tests.conftest import eventually


class Held:
    """Holds every SubmitEntry at its INSERT into cases until released."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.conn: asyncpg.Connection | None = None
        self.tx: asyncpg.transaction.Transaction | None = None

    async def hold(self) -> None:
        self.conn = await self.pool.acquire()
        self.tx = self.conn.transaction()
        await self.tx.start()
        await self.conn.execute("LOCK TABLE cases IN ACCESS EXCLUSIVE MODE")

    async def waiting(self) -> bool:
        return bool(
            await self.pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
        )

    async def release(self) -> None:
        if self.tx is not None and self.conn is not None:
            await self.tx.rollback()
            await self.pool.release(self.conn)
            self.tx = self.conn = None


@pytest.fixture
async def held(make_app, pool) -> AsyncIterator[tuple[Held, Desk]]:  # type: ignore[no-untyped-def]
    app = await make_app()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")
    desk = Desk(channel, "CQ-YUZHONG-01", "1", timezone(timedelta(hours=8)))
    lock = Held(pool)
    await lock.hold()
    try:
        yield lock, desk
    finally:
        await lock.release()
        await desk.close()
        await channel.close()


def confirmed_form(desk: Desk, amount: str = "580000") -> dict[str, object]:
    at = (datetime.now(UTC) - timedelta(minutes=10)).astimezone(timezone(timedelta(hours=8)))
    transfer = dict.fromkeys(TRANSFER_FIELDS, "")
    transfer.update(
        {
            "payer.bank_code": "CQRCB",
            "payer.number": "6214830000000580",
            "payer.holder_name": "某",
            "payee.bank_code": "ICBC",
            "payee.number": "6222020200001111111",
            "payee.holder_name": "王某某",
            "amount_minor": amount,
            "transferred_at": at.strftime("%Y-%m-%dT%H:%M:%S"),
            "txn_id": "T-1",
        }
    )
    form: dict[str, object] = {
        "report_no": "YZ-1",
        "victim.name": "某",
        "victim.id_number": "500101199001011234",
        "fraud_type": "FRAUD_TYPE_INVESTMENT",
        "transfers": [transfer],
    }
    desk.edit(form)
    desk.check(0, desk.draft.transfers[0].rev, Check.CONFIRMED)
    return form


async def test_no_change_while_the_confirmed_draft_is_being_sent(held: tuple[Held, Desk], pool) -> None:
    lock, desk = held
    form = confirmed_form(desk)
    submitting = asyncio.create_task(desk.submit())
    await eventually(lock.waiting)  # stopay has the entry and waits at the lock
    changed = dict(form["transfers"][0], amount_minor="1")  # type: ignore[index]
    with pytest.raises(DraftError) as refused:
        desk.edit({**form, "transfers": [changed]})
    assert refused.value.field == "draft"
    with pytest.raises(DraftError):
        desk.check(0, desk.draft.transfers[0].rev, Check.FLAGGED)
    await lock.release()
    result = await submitting
    assert result.case_id, result
    # The draft marked submitted holds what was sent, and stopay stored that.
    assert desk.draft.transfers[0].fields["amount_minor"] == "580000" and desk.draft.confirmed
    stored = await pool.fetchval("SELECT reported_minor FROM cases WHERE case_id = $1::uuid", result.case_id)
    assert stored == 58_000_000


async def test_a_new_entry_asked_for_during_a_submission_starts_after_it(held: tuple[Held, Desk]) -> None:
    lock, desk = held
    confirmed_form(desk)
    sent_entry = desk.draft.entry_id
    submitting = asyncio.create_task(desk.submit())
    await eventually(lock.waiting)
    starting = asyncio.create_task(desk.start_new())
    await asyncio.sleep(0)  # the new entry is asked for while the submission waits
    assert not starting.done()
    await lock.release()
    assert (await submitting).case_id
    await starting
    # The new entry is fresh and open, not marked with the case of the one sent before it.
    assert desk.draft.entry_id != sent_entry and desk.draft.case_id == ""
    desk.edit({"transfers": [dict.fromkeys(TRANSFER_FIELDS, "")]})  # and takes the officer's keys

"""The station's desk while a submission is under way, against a stopay stand-in that answers
SubmitEntry only when the test lets it: what the victim confirmed is what is sent, and the answer
belongs to the draft that was sent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta, timezone

import grpc
import pytest

from stopay.station.desk import Desk
from stopay.station.draft import TRANSFER_FIELDS, Check, DraftError
from stopay.v1 import station_pb2, station_pb2_grpc


class HeldStation(station_pb2_grpc.StationServiceServicer):
    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.received: list[station_pb2.SubmitEntryRequest] = []

    async def SubmitEntry(self, request, context):  # type: ignore[no-untyped-def]
        self.received.append(request)
        await self.release.wait()
        return station_pb2.SubmitEntryResponse(case_id="c0ffee00-0000-5000-8000-000000000001")

    async def WatchCase(self, request, context):  # type: ignore[no-untyped-def]
        await asyncio.Event().wait()
        yield station_pb2.CaseUpdate()


@pytest.fixture
async def held() -> AsyncIterator[tuple[HeldStation, Desk]]:
    servicer = HeldStation()
    server = grpc.aio.server()
    station_pb2_grpc.add_StationServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    desk = Desk(channel, "CQ-YUZHONG-01", "1", timezone(timedelta(hours=8)))
    try:
        yield servicer, desk
    finally:
        servicer.release.set()
        await desk.close()
        await channel.close()
        await server.stop(None)


def confirmed_form(desk: Desk, amount: str = "580000") -> dict[str, object]:
    transfer = dict.fromkeys(TRANSFER_FIELDS, "")
    transfer.update({"payee.bank_code": "ICBC", "payee.number": "6222020200001111111", "amount_minor": amount})
    transfer["transferred_at"] = "2021-03-02T09:15"
    form: dict[str, object] = {"report_no": "YZ-1", "victim.name": "某", "transfers": [transfer]}
    desk.edit(form)
    desk.check(0, desk.draft.transfers[0].rev, Check.CONFIRMED)
    return form


async def test_no_change_while_the_confirmed_draft_is_being_sent(held: tuple[HeldStation, Desk]) -> None:
    servicer, desk = held
    form = confirmed_form(desk)
    submitting = asyncio.create_task(desk.submit())
    while not servicer.received:
        await asyncio.sleep(0.01)
    changed = dict(form["transfers"][0], amount_minor="1")  # type: ignore[index]
    with pytest.raises(DraftError) as refused:
        desk.edit({**form, "transfers": [changed]})
    assert refused.value.field == "draft"
    with pytest.raises(DraftError):
        desk.check(0, desk.draft.transfers[0].rev, Check.FLAGGED)
    servicer.release.set()
    assert (await submitting).case_id
    # The draft marked submitted holds what was sent.
    assert desk.draft.transfers[0].fields["amount_minor"] == "580000" and desk.draft.confirmed
    assert servicer.received[0].transfers[0].amount_minor == 58_000_000


async def test_a_new_entry_asked_for_during_a_submission_starts_after_it(held: tuple[HeldStation, Desk]) -> None:
    servicer, desk = held
    confirmed_form(desk)
    sent_entry = desk.draft.entry_id
    submitting = asyncio.create_task(desk.submit())
    while not servicer.received:
        await asyncio.sleep(0.01)
    starting = asyncio.create_task(desk.start_new())
    await asyncio.sleep(0.05)
    servicer.release.set()
    assert (await submitting).case_id
    await starting
    # The new entry is fresh and open, not marked with the case of the one sent before it.
    assert desk.draft.entry_id != sent_entry and desk.draft.case_id == ""
    desk.edit({"transfers": [dict.fromkeys(TRANSFER_FIELDS, "")]})  # and takes the officer's keys

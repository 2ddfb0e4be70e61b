"""The station's draft between the two screens: amounts typed in yuan become exact fen, a change to
a confirmed transfer sends it back to the victim, a confirmation of what is no longer on the screen
is refused, and the screens' hub gives a screen that connects the present first."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest

from stopay.station.draft import TRANSFER_FIELDS, Check, Draft, DraftError, fen, local_time, utc_offset, yuan_text
from stopay.station.hub import QUEUE, Hub

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


def form(amount: str = "580000", **entry: str) -> dict[str, object]:
    transfer = dict.fromkeys(TRANSFER_FIELDS, "")
    transfer.update({"payee.bank_code": "ICBC", "payee.number": "6222020200001111111", "amount_minor": amount})
    return {"report_no": "YZ-1", "victim.name": "某", **entry, "transfers": [transfer]}


@pytest.mark.parametrize(
    ("typed", "minor"),
    [
        ("580000", 58_000_000),
        ("580,000.00", 58_000_000),
        ("¥1,000.5", 100_050),
        ("0.01", 1),
        ("１２", 1_200),
        ("1.5x", None),
    ],
)
def test_yuan_as_typed_is_exact_fen(typed: str, minor: int | None) -> None:
    if minor is None:
        with pytest.raises(ValueError, match="amount in yuan"):
            fen(typed)
    else:
        assert fen(typed) == minor


@pytest.mark.parametrize("typed", ["", "abc", "1.234", "-5", "1e5", "99999999999999"])
def test_what_is_not_an_amount_is_refused(typed: str) -> None:
    with pytest.raises(ValueError):
        fen(typed)
    assert yuan_text(typed) == ""


def test_a_change_sends_a_confirmed_transfer_back_to_the_victim() -> None:
    draft = Draft.new()
    draft.edit(form())
    rev = draft.transfers[0].rev
    draft.check(0, rev, Check.CONFIRMED, NOW)
    assert draft.confirmed and draft.confirmed_at == NOW
    draft.edit(form(narrative="more said"))  # the entry's own fields: the transfer stays confirmed
    assert draft.confirmed
    draft.edit(form(amount="580001"))
    assert draft.transfers[0].check is Check.WAITING and draft.transfers[0].rev == rev + 1
    assert not draft.confirmed and draft.confirmed_at is None
    shown = draft.shown()
    assert shown["transfers"][0]["yuan"] == "¥580,001.00"  # type: ignore[index]


def test_a_confirmation_of_what_is_no_longer_shown_is_refused() -> None:
    draft = Draft.new()
    draft.edit(form())
    old = draft.transfers[0].rev
    draft.edit(form(amount="1"))
    with pytest.raises(DraftError) as refused:
        draft.check(0, old, Check.CONFIRMED, NOW)
    assert refused.value.field == "rev"
    with pytest.raises(DraftError) as missing:
        draft.check(3, draft.transfers[0].rev, Check.CONFIRMED, NOW)
    assert missing.value.field == "index"
    draft.check(0, draft.transfers[0].rev, Check.FLAGGED, NOW)
    assert not draft.confirmed


def test_a_submitted_draft_takes_no_more_changes_and_bad_forms_name_their_field() -> None:
    draft = Draft.new()
    with pytest.raises(DraftError) as none:
        draft.edit({"transfers": []})
    assert none.value.field == "transfers"
    with pytest.raises(DraftError) as typed:
        draft.edit({**form(), "report_no": 5})
    assert typed.value.field == "report_no"
    draft.edit(form())
    draft.case_id = "c"
    with pytest.raises(DraftError):
        draft.edit(form())


def test_local_time_and_offset() -> None:
    cst = utc_offset("+08:00")
    assert cst == timezone(timedelta(hours=8))
    assert local_time("2021-03-02T09:15", cst) == datetime(2021, 3, 2, 1, 15, tzinfo=UTC)
    with pytest.raises(ValueError):
        utc_offset("CST")
    with pytest.raises(ValueError):
        local_time("yesterday", cst)


async def test_the_hub_gives_a_new_screen_the_present_then_each_change() -> None:
    hub = Hub()
    hub.publish("draft", {"v": 1})
    hub.publish("draft", {"v": 2})
    queue = hub.subscribe()
    assert queue.get_nowait() == ("draft", '{"v":2}')  # the latest only
    hub.publish("case", {"held": "¥1.00"})
    assert await asyncio.wait_for(queue.get(), 1) == ("case", '{"held":"¥1.00"}')
    for n in range(QUEUE + 5):  # a screen that falls behind gets the latest of each kind
        hub.publish("draft", {"v": n})
    items = [queue.get_nowait() for _ in range(queue.qsize())]
    assert items[-1] == ("draft", f'{{"v":{QUEUE + 4}}}')
    hub.unsubscribe(queue)
    assert hub.screens == 0

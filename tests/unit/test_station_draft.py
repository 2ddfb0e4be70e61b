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


def test_a_change_to_what_the_victim_confirms_besides_the_transfers_sends_them_back() -> None:
    # The report number and the victim's name are in the confirmation text: the victim confirms them too.
    for changed in ({"report_no": "YZ-2"}, {"victim.name": "另一人"}):
        draft = Draft.new()
        draft.edit(form())
        draft.check(0, draft.transfers[0].rev, Check.CONFIRMED, NOW)
        draft.edit(form(**changed))
        assert draft.transfers[0].check is Check.WAITING and not draft.confirmed, changed


def test_a_stale_confirmation_cannot_land_on_a_transfer_that_took_the_place_of_another() -> None:
    draft = Draft.new()
    first = form()
    second = dict(first["transfers"][0], **{"payee.number": "6222020200002222222"})  # type: ignore[call-overload]
    draft.edit({**first, "transfers": [first["transfers"][0], second]})  # type: ignore[index]
    shown_rev = draft.transfers[1].rev  # what the victim's screen shows at index 1
    draft.edit(first)  # the officer removes it...
    third = dict(second, **{"amount_minor": "999999"})
    draft.edit({**first, "transfers": [first["transfers"][0], third]})  # type: ignore[index]
    with pytest.raises(DraftError) as stale:  # ...and the victim's click on the old card arrives
        draft.check(1, shown_rev, Check.CONFIRMED, NOW)
    assert stale.value.field == "rev"
    assert draft.transfers[1].check is Check.WAITING


@pytest.mark.parametrize(
    "typed", ["0001-01-01T00:00", "9999-12-31T23:59", "20210302T0915", "2021-W09-2T09:15", "2021-03-02T09:15+00:00"]
)
def test_a_time_is_the_local_date_and_time_as_shown_or_a_refusal(typed: str) -> None:
    with pytest.raises(ValueError, match="date and time"):
        local_time(typed, utc_offset("-05:00") if typed.startswith("9999") else utc_offset("+08:00"))


def test_a_narrative_may_be_as_long_as_stopay_takes_it() -> None:
    draft = Draft.new()
    draft.edit(form(narrative="案" * 1000))
    assert len(draft.fields["narrative"]) == 1000
    with pytest.raises(DraftError) as long:
        draft.edit(form(report_no="Y" * 201))
    assert long.value.field == "report_no"

"""The victim's confirmation end to end: SubmitEntry refuses an entry without it, or with a digest that
is not of its own transfers, and writes nothing; an accepted entry's case.accepted event records it
in the hash chain, which verifies, and an auditor recomputes the digest from the stored transfers."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from stopay.api.validation import confirm_request, entry_from_request
from stopay.domain.clock import SYSTEM_CLOCK
from stopay.domain.confirmation import ConfirmationMethod, shown_digest
from stopay.domain.entry import Party, Transfer
from stopay.domain.trail import Limits
from stopay.store import audit, entries
from stopay.v1 import station_pb2
from tests.entries import confirm, simple_request


async def refused_fields(call) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(info.value)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    return {v.field: v.description for v in bad.field_violations}


async def accepted_detail(pool, case_id: str) -> dict:  # type: ignore[no-untyped-def]
    text = await pool.fetchval(
        "SELECT detail::text FROM case_events WHERE case_id = $1 AND kind = 'case.accepted'", case_id
    )
    return json.loads(text)


async def stored_digest(pool, case_id: str) -> bytes:  # type: ignore[no-untyped-def]
    """What an auditor recomputes from the case's stored entry (cases, entry_transfers)."""
    case = await pool.fetchrow("SELECT report_no, victim_name FROM cases WHERE case_id = $1", case_id)
    rows = await pool.fetch("SELECT * FROM entry_transfers WHERE case_id = $1 ORDER BY ordinal", case_id)
    transfers = [
        Transfer(
            Party(r["payer_bank"], r["payer_number"], r["payer_holder"]),
            Party(r["payee_bank"], r["payee_number"], r["payee_holder"]),
            r["amount_minor"],
            r["currency"],
            r["transferred_at"],
            r["txn_id"],
            r["channel"],
        )
        for r in rows
    ]
    return shown_digest(case["report_no"], case["victim_name"], transfers)


async def test_the_first_event_records_the_confirmation_and_the_chain_verifies(make_app, channel_to, pool) -> None:
    stub = channel_to(await make_app())
    request = simple_request(("ICBC", "6222020200001234567", 150_000), ("ABC", "6228480000007654321", 2_500))
    at = datetime.now(UTC).replace(microsecond=250_000) - timedelta(minutes=2)
    confirm_request(request, ConfirmationMethod.SIGNED_FORM, reference="YZ-F-0042", confirmed_at=at)
    reply = await stub.SubmitEntry(request)
    assert not reply.duplicate
    detail = await accepted_detail(pool, reply.case_id)
    digest = request.confirmation.shown_sha256
    assert detail["confirmation"] == {
        "method": "signed_form",
        "reference": "YZ-F-0042",
        "confirmed_at": at.isoformat().replace("+00:00", "Z"),
        "shown_sha256": digest.hex(),
    }
    assert detail["entry_id"] == request.entry_id and detail["reported_minor"] == 152_500
    # What the victim confirmed is what was stored, and frozen.
    assert await stored_digest(pool, reply.case_id) == digest
    report = await audit.verify(pool)
    assert report.ok and report.cases == 1, report.breaks
    # People read it in the event's summary too.
    watching = stub.WatchCase(station_pb2.WatchCaseRequest(case_id=reply.case_id, follow=True), timeout=20)
    first = await watching.read()
    watching.cancel()
    (accepted,) = [e for e in first.events if e.kind == station_pb2.EVENT_KIND_CASE_ACCEPTED]
    assert accepted.summary == "case accepted, ¥1,525.00 reported, confirmed by the victim on signed form YZ-F-0042"
    # The same request again is a duplicate; the chain did not grow a second case.accepted.
    again = await stub.SubmitEntry(request)
    assert (again.case_id, again.duplicate) == (reply.case_id, True)
    assert await pool.fetchval("SELECT count(*) FROM case_events WHERE kind = 'case.accepted'") == 1


async def test_a_changed_transfer_with_the_old_digest_is_refused_and_nothing_is_written(
    make_app, channel_to, pool
) -> None:
    stub = channel_to(await make_app())
    request = simple_request(("ICBC", "6222020200001234567", 300_000))
    request.transfers[0].amount_minor = 3_000_000  # keyed in after the victim confirmed ¥3,000.00
    fields = await refused_fields(stub.SubmitEntry(request))
    assert list(fields) == ["confirmation.shown_sha256"]
    assert "not the digest of these transfers as shown to the victim" in fields["confirmation.shown_sha256"]
    request.ClearField("confirmation")
    assert list(await refused_fields(stub.SubmitEntry(request))) == ["confirmation"]
    for table in ("cases", "entry_transfers", "freeze_orders", "case_events", "transfer_owners"):
        assert await pool.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    # Shown to the victim again and confirmed, it is accepted.
    assert (await stub.SubmitEntry(confirm(request))).case_id


async def test_a_case_accepted_before_entries_were_confirmed_is_a_duplicate_of_the_same_entry_confirmed(
    make_app, channel_to, pool
) -> None:
    stub = channel_to(await make_app())
    request = simple_request(("ICBC", "6222020200001234567", 300_000))
    unconfirmed = entry_from_request(request, SYSTEM_CLOCK.now())
    # As stored before entries carried a confirmation: the old digest, no confirmation in the chain.
    old = dataclasses.replace(unconfirmed, confirmation=None)
    case_id, duplicate = await entries.submit_entry(pool, old, Limits(), "officer:O-1001")
    assert not duplicate
    assert "confirmation" not in await accepted_detail(pool, str(case_id))
    again = await stub.SubmitEntry(request)
    assert (again.case_id, again.duplicate) == (str(case_id), True)
    # Another payload under that entry_id is still a conflict.
    request.transfers[0].amount_minor = 300_001
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await stub.SubmitEntry(confirm(request))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert (await audit.verify(pool)).ok

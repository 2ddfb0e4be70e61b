"""Entries for tests: from a scenario's checks, or a small valid one to spoil field by field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from google.protobuf import json_format

from bank_adapters.simulated.scenario import load_scenario
from stopay.api.validation import confirm_request
from stopay.bootstrap import App
from stopay.cli.scenario_entries import check_entries
from stopay.domain.confirmation import ConfirmationMethod
from stopay.v1 import common_pb2, station_pb2
from tests.conftest import new_entry_id


def scenario_requests(app: App, path: Path, check_index: int = 0) -> list[station_pb2.SubmitEntryRequest]:
    scenario = load_scenario(path)
    epoch = app.adapters[scenario.banks[0].code].world.epoch  # type: ignore[attr-defined]
    return [
        json_format.ParseDict(data, station_pb2.SubmitEntryRequest())
        for data in check_entries(scenario, scenario.checks[check_index], epoch)
    ]


def simple_request(*payees: tuple[str, str, int], entry_id: str | None = None) -> station_pb2.SubmitEntryRequest:
    """A valid entry paying each ``(bank_code, number, amount)`` from one victim account, confirmed by
    the victim."""
    at = datetime.now(UTC) - timedelta(minutes=5)
    request = station_pb2.SubmitEntryRequest(
        entry_id=entry_id or new_entry_id(),
        station_id="CQ-YUZHONG-01",
        officer_id="O-1001",
        report_no="R-2026-0001",
        victim=station_pb2.Victim(name="陈某", id_number="500101199001011234"),
        fraud_type=station_pb2.FRAUD_TYPE_INVESTMENT,
    )
    for n, (bank, number, amount) in enumerate(payees):
        transfer = request.transfers.add(
            payer=common_pb2.AccountRef(bank_code="CQCB", number="6229100000000001", holder_name="陈某"),
            payee=common_pb2.AccountRef(bank_code=bank, number=number, holder_name="某公司"),
            amount_minor=amount,
            currency="CNY",
            txn_id=f"T{n}",
        )
        transfer.transferred_at.FromDatetime(at)
    confirm(request)
    return request


def confirm(request: station_pb2.SubmitEntryRequest, at: datetime | None = None) -> station_pb2.SubmitEntryRequest:
    """``request`` confirmed by its victim on the station's second screen as its transfers are now:
    call it again after changing them. At ``at``; when None, at the time of its confirmation so far
    (so that confirming an unchanged request again changes nothing), or now."""
    if at is None and request.confirmation.HasField("confirmed_at"):
        at = request.confirmation.confirmed_at.ToDatetime(tzinfo=UTC)
    confirm_request(request, ConfirmationMethod.DUAL_SCREEN, confirmed_at=at)
    return request


def scenario_requests_for(path: Path, check_index: int = 0) -> list[station_pb2.SubmitEntryRequest]:
    """Entries for a scenario file that pins its own epoch (as a separate server process sees it)."""
    scenario = load_scenario(path)
    assert scenario.epoch is not None, "pin the scenario's epoch"
    return [
        json_format.ParseDict(data, station_pb2.SubmitEntryRequest())
        for data in check_entries(scenario, scenario.checks[check_index], scenario.epoch)
    ]

"""Entries for a bank-network scenario's checks: what a station would key in for each victim."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from google.protobuf import json_format

from bank_adapters.simulated.scenario import Check, Scenario
from stopay.api.validation import confirm_request
from stopay.domain.confirmation import ConfirmationMethod
from stopay.v1 import station_pb2


def _account(scenario: Scenario, account_id: str) -> dict[str, str]:
    bank_code, number = account_id.split(":", 1)
    return {"bank_code": bank_code, "number": number, "holder_name": scenario.account(account_id).holder}


def check_entries(
    scenario: Scenario,
    check: Check,
    epoch: datetime,
    station_id: str = "DEMO-STATION",
    confirmed_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """One SubmitEntryRequest (as JSON-ready data) per entry of ``check``, with fresh entry ids,
    each confirmed by its victim on the station's second screen at ``confirmed_at`` (now when None),
    as a station would send it."""
    entries = []
    for n, entry in enumerate(check.entries, 1):
        transfers = []
        for txn_id in entry.transfers:
            event = scenario.event(txn_id)
            if event.from_account is None or event.to_account is None:
                raise ValueError(f"{scenario.name}: {txn_id} is not a transfer between two accounts")
            at = epoch + timedelta(seconds=event.at)
            transfers.append(
                {
                    "payer": _account(scenario, event.from_account),
                    "payee": _account(scenario, event.to_account),
                    "amount_minor": event.amount,
                    "currency": scenario.currency,
                    "transferred_at": at.isoformat().replace("+00:00", "Z"),
                    "txn_id": txn_id,
                    "channel": "mobile",
                }
            )
        data: dict[str, Any] = {
            "entry_id": str(uuid.uuid4()),
            "station_id": station_id,
            "officer_id": "DEMO-OFFICER",
            "report_no": f"{scenario.name}-{check.name}-{n}",
            "victim": {"name": entry.victim},
            "transfers": transfers,
            "fraud_type": "FRAUD_TYPE_OTHER",
            "narrative": scenario.description,
        }
        request = json_format.ParseDict(data, station_pb2.SubmitEntryRequest())
        confirm_request(request, ConfirmationMethod.DUAL_SCREEN, confirmed_at=confirmed_at)
        data["confirmation"] = json_format.MessageToDict(request.confirmation, preserving_proto_field_name=True)
        entries.append(data)
    return entries

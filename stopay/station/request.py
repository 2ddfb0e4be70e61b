"""The SubmitEntryRequest a confirmed draft becomes: amounts typed in yuan sent as fen, local times
as instants, and the victim's confirmation on the second screen with the digest of what it showed.
What cannot become a request is said per form field, before anything is sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from stopay.api.validation import shown_digest_of_request
from stopay.station.draft import Draft, fen, local_time
from stopay.v1 import common_pb2, station_pb2


@dataclass
class Built:
    request: station_pb2.SubmitEntryRequest
    violations: dict[str, str] = field(default_factory=dict)


def build(draft: Draft, station_id: str, officer_id: str, offset: timezone, now: datetime) -> Built:
    f = draft.fields
    violations: dict[str, str] = {}
    fraud_type = station_pb2.FRAUD_TYPE_UNSPECIFIED
    if f.get("fraud_type"):
        try:
            fraud_type = station_pb2.FraudType.Value(f["fraud_type"])
        except ValueError:
            violations["fraud_type"] = "is not a kind of fraud stopay knows"
    request = station_pb2.SubmitEntryRequest(
        entry_id=draft.entry_id,
        station_id=station_id,
        officer_id=officer_id,
        report_no=f.get("report_no", ""),
        victim=station_pb2.Victim(
            name=f.get("victim.name", ""), id_number=f.get("victim.id_number", ""), phone=f.get("victim.phone", "")
        ),
        fraud_type=fraud_type,
        narrative=f.get("narrative", ""),
    )
    for i, t in enumerate(draft.transfers):
        v = t.fields
        transfer = request.transfers.add(
            payer=common_pb2.AccountRef(
                bank_code=v["payer.bank_code"], number=v["payer.number"], holder_name=v["payer.holder_name"]
            ),
            payee=common_pb2.AccountRef(
                bank_code=v["payee.bank_code"], number=v["payee.number"], holder_name=v["payee.holder_name"]
            ),
            currency="CNY",
            txn_id=v["txn_id"],
            channel=v["channel"],
        )
        try:
            transfer.amount_minor = fen(v["amount_minor"])
        except ValueError as exc:
            violations[f"transfers[{i}].amount_minor"] = str(exc)
        try:
            transfer.transferred_at.FromDatetime(local_time(v["transferred_at"], offset))
        except ValueError as exc:
            violations[f"transfers[{i}].transferred_at"] = str(exc)
    confirmed_at = draft.confirmed_at or now
    request.confirmation.method = station_pb2.CONFIRMATION_METHOD_DUAL_SCREEN
    request.confirmation.confirmed_at.FromDatetime(confirmed_at)
    if not violations:
        # The digest of what the victim was shown, computed as stopay computes it (its validation
        # refuses the entry when the two differ).
        request.confirmation.shown_sha256 = shown_digest_of_request(request) or b""
    return Built(request, violations)

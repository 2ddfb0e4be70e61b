"""Checks the requests of AuditService that filter by period, station or bank; every problem names
its field, all at once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from stopay.api.convert import EVENT_KIND
from stopay.api.validation import InvalidRequest, Violation, _Checker
from stopay.domain.accounts import BANK_CODE
from stopay.domain.clock import EPOCH
from stopay.v1 import audit_pb2


@dataclass(frozen=True, slots=True)
class Period:
    since: datetime
    until: datetime


def _period(check: _Checker, request: audit_pb2.ReportRequest | audit_pb2.ExportEventsRequest, now: datetime) -> Period:
    since = check.time("since", request.since) if request.HasField("since") else EPOCH
    until = check.time("until", request.until) if request.HasField("until") else now
    if since is not None and until is not None and until <= since:
        check.fail("until", "must be later than since")
    return Period(since or EPOCH, until or now)


GROUPINGS = {
    audit_pb2.REPORT_GROUPING_UNSPECIFIED: "none",
    audit_pb2.REPORT_GROUPING_FRAUD_TYPE: "fraud_type",
    audit_pb2.REPORT_GROUPING_STATION: "station",
    audit_pb2.REPORT_GROUPING_MONTH: "month",
}
MAX_UTC_OFFSET_MINUTES = 18 * 60


@dataclass(frozen=True, slots=True)
class Grouping:
    by: str  # "none", "fraud_type", "station" or "month"
    utc_offset_minutes: int
    compare_previous_year: bool


def report_request(request: audit_pb2.ReportRequest, now: datetime) -> tuple[Period, str | None, str | None, Grouping]:
    """The period, the station and bank filters (None for all) and the statistics' grouping, or
    :class:`InvalidRequest` naming every field at fault."""
    check = _Checker()
    period = _period(check, request, now)
    station_id = check.text("station_id", request.station_id, required=False, max_len=64)
    if request.bank_code and not BANK_CODE.fullmatch(request.bank_code):
        check.fail("bank_code", "must be 2 to 11 characters of A-Z and 0-9, starting with a letter")
    if request.group_by not in GROUPINGS:
        check.fail("group_by", "must be one of ReportGrouping's values")
    if abs(request.utc_offset_minutes) > MAX_UTC_OFFSET_MINUTES:
        check.fail("utc_offset_minutes", f"must be between -{MAX_UTC_OFFSET_MINUTES} and {MAX_UTC_OFFSET_MINUTES}")
    if check.violations:
        raise InvalidRequest(check.violations)
    grouping = Grouping(GROUPINGS[request.group_by], request.utc_offset_minutes, request.compare_previous_year)
    return period, station_id or None, request.bank_code or None, grouping


def export_request(
    request: audit_pb2.ExportEventsRequest, now: datetime
) -> tuple[Period, uuid.UUID | None, tuple[str, ...]]:
    """The period, the case (None for all) and the event kinds (empty for all), or
    :class:`InvalidRequest`."""
    check = _Checker()
    period = _period(check, request, now)
    case_id = None
    if request.case_id:
        try:
            case_id = uuid.UUID(request.case_id)
        except ValueError:
            check.fail("case_id", "must be a case id (a UUID)")
    kinds = []
    for i, number in enumerate(request.kinds):
        try:
            kinds.append(EVENT_KIND.name(number))
        except ValueError:
            check.fail(f"kinds[{i}]", "must be an event kind (not unspecified)")
    if check.violations:
        raise InvalidRequest(check.violations)
    return period, case_id, tuple(kinds)


def repeat_accounts_request(request: audit_pb2.RepeatAccountsRequest) -> int:
    """The least number of cases (0 means 2), or :class:`InvalidRequest`."""
    if request.min_cases == 0:
        return 2
    if request.min_cases < 2:
        raise InvalidRequest([Violation("min_cases", "must be at least 2 (or 0 for 2)")])
    return request.min_cases

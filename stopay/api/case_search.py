"""Checks a ListCasesRequest's filters and page token (docs/rules.md, Search); every problem names
its field, all at once.

A page token stands for the last case of the page before, ``created_at|case_id`` in URL-safe
base64, and, when the list is filtered, for the filters it was given out with: ``|`` and the first
16 hex digits of the SHA-256 of their canonical JSON. A token asked with other filters is refused
(naming page_token) rather than read: its position means nothing in another list. A token without
filters stands for the unfiltered list, as tokens always did.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp

from stopay.api.validation import InvalidRequest, _Checker
from stopay.domain.accounts import ACCOUNT_NUMBER, BANK_CODE
from stopay.domain.case import CaseSearch
from stopay.v1 import station_pb2

_SETTLED = {station_pb2.CASE_STATUS_OPEN: False, station_pb2.CASE_STATUS_SETTLED: True}


def case_search(request: station_pb2.ListCasesRequest) -> tuple[CaseSearch, tuple[datetime, uuid.UUID] | None]:
    """The filters and the position after which the page starts (None: the first page), or
    :class:`InvalidRequest` naming every bad field. Page size is the caller's to check."""
    c = _Checker()
    station_id = c.text("station_id", request.station_id, required=False, max_len=64)
    report_no = c.text("report_no", request.report_no, required=False, max_len=64)
    victim_name = c.text("victim_name", request.victim_name, required=False, max_len=100)
    account = None
    if request.HasField("account"):
        ref = request.account
        if not BANK_CODE.fullmatch(ref.bank_code):
            c.fail("account.bank_code", "must be 2 to 11 characters of A-Z and 0-9, starting with a letter")
        if not ACCOUNT_NUMBER.fullmatch(ref.number):
            c.fail("account.number", "must be 6 to 34 characters of 0-9 and A-Z")
        account = (ref.bank_code, ref.number)
    created_from = _instant(c, "created_from", request.created_from) if request.HasField("created_from") else None
    created_until = _instant(c, "created_until", request.created_until) if request.HasField("created_until") else None
    if created_from is not None and created_until is not None and created_until <= created_from:
        c.fail("created_until", "must be later than created_from")
    settled = None
    if request.status not in station_pb2.CaseStatus.values():
        c.fail("status", f"unknown case status {request.status}")
    else:
        settled = _SETTLED.get(request.status)
    search = CaseSearch(
        station_id=station_id or None,
        report_no=report_no or None,
        victim_name=victim_name or None,
        account=account,
        created_from=created_from,
        created_until=created_until,
        settled=settled,
    )
    after = None
    if request.page_token:
        try:
            after, filters = _position(request.page_token)
        except ValueError:
            c.fail("page_token", "is not a token this service gave out")
        else:
            if not c.violations and filters != _digest(search):
                c.fail(
                    "page_token",
                    "was given out for other filters: repeat the filters of the page it came with, or ask for"
                    " the first page (no page_token)",
                )
    if c.violations:
        raise InvalidRequest(c.violations)
    return search, after


def page_token(search: CaseSearch, created_at: datetime, case_id: uuid.UUID) -> str:
    """The token of the page after the case (created_at, case_id), in the list ``search`` finds."""
    text = f"{created_at.isoformat()}|{case_id}"
    digest = _digest(search)
    return base64.urlsafe_b64encode((f"{text}|{digest}" if digest else text).encode()).decode()


def _instant(c: _Checker, field: str, value: Timestamp) -> datetime | None:
    """The time, rounded up to the microsecond PostgreSQL keeps: [from, until) keeps its meaning for
    a bound between two microseconds."""
    at = c.time(field, value)
    if at is not None and value.nanos % 1000:
        try:
            at += timedelta(microseconds=1)
        except OverflowError:
            c.fail(field, "must be a time between the years 1 and 9999 (nanos 0 to 999,999,999)")
            return None
    return at


def _digest(search: CaseSearch) -> str:
    """The filters' fingerprint; empty for none."""
    if not search.filtered:
        return ""
    fields = {
        "station_id": search.station_id,
        "report_no": search.report_no,
        "victim_name": search.victim_name,
        "account": list(search.account) if search.account else None,
        "created_from": search.created_from.isoformat() if search.created_from else None,
        "created_until": search.created_until.isoformat() if search.created_until else None,
        "settled": search.settled,
    }
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _position(token: str) -> tuple[tuple[datetime, uuid.UUID], str]:
    """The (created_at, case_id) a page token stands for and its filters' fingerprint (empty: none);
    ValueError for any token this service could not have given out (not base64, no time zone, a time
    PostgreSQL cannot hold)."""
    parts = base64.urlsafe_b64decode(token.encode()).decode().split("|")
    if len(parts) == 2:
        created, case_id, filters = *parts, ""
    elif len(parts) == 3 and len(parts[2]) == 16:
        created, case_id, filters = parts
    else:
        raise ValueError("not a page token")
    at = datetime.fromisoformat(created)
    if at.tzinfo is None:
        raise ValueError("the page token's time has no time zone")
    try:
        return (at.astimezone(UTC), uuid.UUID(case_id)), filters
    except OverflowError as exc:
        raise ValueError("the page token's time is out of range") from exc

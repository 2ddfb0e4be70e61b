"""Checks a SubmitEntryRequest field by field and turns it into a domain Entry.

Every problem is reported with the path of the field it concerns (``transfers[1].amount_minor``),
all at once, so an officer can fix the entry in one go.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp

from stopay.domain.accounts import ACCOUNT_NUMBER, BANK_CODE
from stopay.domain.entry import Entry, Party, Transfer, Victim
from stopay.domain.money import MAX_TRANSFER_MINOR, MAX_TRANSFERS_PER_ENTRY
from stopay.domain.text import refusal
from stopay.v1 import common_pb2, station_pb2

ENTRY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,63}")
CURRENCY = re.compile(r"[A-Z]{3}")
# A transfer stamped later than this past the server's clock is a typing error.
FUTURE_SKEW = timedelta(minutes=10)
# A transfer stamped before this is a typing error too (a year 0001 or 1970 left by a form's
# default): no case of fraud stopay traces reaches back into the last century.
EARLIEST_TRANSFER = datetime(2000, 1, 1, tzinfo=UTC)
# What a google.protobuf.Timestamp may hold: the years 1 to 9999, nanos 0 to 999,999,999.
MIN_SECONDS, MAX_SECONDS = -62135596800, 253402300799


@dataclass(frozen=True, slots=True)
class Violation:
    field: str
    description: str


class InvalidRequest(ValueError):
    def __init__(self, violations: list[Violation]) -> None:
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))
        self.violations = violations


class _Checker:
    def __init__(self) -> None:
        self.violations: list[Violation] = []

    def fail(self, field: str, description: str) -> None:
        self.violations.append(Violation(field, description))

    def text(
        self, field: str, value: str, *, required: bool = True, max_len: int = 128, free_text: bool = False
    ) -> str:
        """``value`` without surrounding spaces. It may hold no character stopay.domain.text.is_refused
        names, checked before the spaces go; ``free_text`` (a narrative, a reason) may hold tabs and
        newlines, an identifier or name may not."""
        problem = refusal(value, free_text=free_text)
        value = value.strip()
        if required and not value:
            self.fail(field, "is required")
        elif len(value) > max_len:
            self.fail(field, f"must be at most {max_len} characters")
        elif problem:
            self.fail(field, problem)
        return value

    def time(self, field: str, value: Timestamp) -> datetime | None:
        """The time, or None (with a violation) when it is out of a Timestamp's range."""
        if not MIN_SECONDS <= value.seconds <= MAX_SECONDS or not 0 <= value.nanos <= 999_999_999:
            self.fail(field, "must be a time between the years 1 and 9999 (nanos 0 to 999,999,999)")
            return None
        return value.ToDatetime(tzinfo=UTC)

    def account(self, field: str, ref: common_pb2.AccountRef, *, holder_required: bool) -> Party:
        if not BANK_CODE.fullmatch(ref.bank_code):
            self.fail(f"{field}.bank_code", "must be 2 to 11 characters of A-Z and 0-9, starting with a letter")
        if not ACCOUNT_NUMBER.fullmatch(ref.number):
            self.fail(f"{field}.number", "must be 6 to 34 characters of 0-9 and A-Z")
        holder = self.text(f"{field}.holder_name", ref.holder_name, required=holder_required, max_len=100)
        return Party(ref.bank_code, ref.number, holder)


def entry_from_request(request: station_pb2.SubmitEntryRequest, now: datetime) -> Entry:
    """The entry, or :class:`InvalidRequest` naming every bad field; ``now`` is the service's clock."""
    c = _Checker()
    if not ENTRY_ID.fullmatch(request.entry_id):
        c.fail("entry_id", "must be 8 to 64 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-' (a UUID is best)")
    station_id = c.text("station_id", request.station_id, max_len=64)
    officer_id = c.text("officer_id", request.officer_id, max_len=64)
    report_no = c.text("report_no", request.report_no, max_len=64)
    victim = Victim(
        name=c.text("victim.name", request.victim.name, max_len=100),
        id_number=c.text("victim.id_number", request.victim.id_number, required=False, max_len=32),
        phone=c.text("victim.phone", request.victim.phone, required=False, max_len=32),
    )
    narrative = c.text("narrative", request.narrative, required=False, max_len=4000, free_text=True)
    if request.fraud_type not in station_pb2.FraudType.values():
        c.fail("fraud_type", f"unknown fraud type {request.fraud_type}")
    elif request.fraud_type == station_pb2.FRAUD_TYPE_UNSPECIFIED:
        c.fail("fraud_type", "is required: name the kind of fraud (FRAUD_TYPE_OTHER if none fits)")
    if not request.transfers:
        c.fail("transfers", "at least one transfer is required")
    elif len(request.transfers) > MAX_TRANSFERS_PER_ENTRY:
        c.fail("transfers", f"at most {MAX_TRANSFERS_PER_ENTRY} transfers per entry")

    transfers = []
    seen_txn: set[str] = set()
    payee_holders: dict[tuple[str, str], str] = {}
    currencies: set[str] = set()
    for i, t in enumerate(request.transfers):
        f = f"transfers[{i}]"
        payer = c.account(f"{f}.payer", t.payer, holder_required=False)
        payee = c.account(f"{f}.payee", t.payee, holder_required=True)
        if payer.key == payee.key and BANK_CODE.fullmatch(payer.bank_code):
            c.fail(f"{f}.payee", "must differ from the payer")
        known_holder = payee_holders.setdefault((payee.bank_code, payee.number), payee.holder_name)
        if known_holder != payee.holder_name:
            c.fail(f"{f}.payee.holder_name", f"differs from the holder given for the same account ({known_holder!r})")
        if t.amount_minor <= 0:
            c.fail(f"{f}.amount_minor", "must be more than 0 (integer minor units, fen for CNY)")
        elif t.amount_minor > MAX_TRANSFER_MINOR:
            c.fail(f"{f}.amount_minor", f"must be at most {MAX_TRANSFER_MINOR} minor units")
        currency = t.currency or "CNY"
        if not CURRENCY.fullmatch(currency):
            c.fail(f"{f}.currency", "must be an ISO 4217 code such as CNY")
        currencies.add(currency)
        at = None
        if not t.HasField("transferred_at"):
            c.fail(f"{f}.transferred_at", "is required")
        else:
            at = c.time(f"{f}.transferred_at", t.transferred_at)
            if at is not None and at > now + FUTURE_SKEW:
                c.fail(f"{f}.transferred_at", "is in the future")
            elif at is not None and at < EARLIEST_TRANSFER:
                c.fail(f"{f}.transferred_at", f"must not be before {EARLIEST_TRANSFER:%Y-%m-%d}")
        txn_id = c.text(f"{f}.txn_id", t.txn_id, max_len=64)
        if txn_id and txn_id in seen_txn:
            c.fail(f"{f}.txn_id", f"{txn_id!r} appears twice in this entry")
        seen_txn.add(txn_id)
        channel = c.text(f"{f}.channel", t.channel, required=False, max_len=32)
        if at is not None:
            transfers.append(Transfer(payer, payee, t.amount_minor, currency, at, txn_id, channel))
    if len(currencies) > 1:
        c.fail("transfers", f"all transfers of an entry must be in one currency, got {sorted(currencies)}")
    if c.violations:
        raise InvalidRequest(c.violations)
    return Entry(
        entry_id=request.entry_id,
        station_id=station_id,
        officer_id=officer_id,
        report_no=report_no,
        victim=victim,
        transfers=tuple(transfers),
        fraud_type=request.fraud_type,
        narrative=narrative,
    )


def text_violations(field: str, value: str, *, required: bool = False, max_len: int = 128) -> list[Violation]:
    """The problems of one identifier or name outside a whole request (a filter, an operator id)."""
    c = _Checker()
    c.text(field, value, required=required, max_len=max_len)
    return c.violations


def page_position(token: str) -> tuple[datetime, uuid.UUID]:
    """The (created_at, case_id) a ListCases page token stands for; ValueError for any token this
    service could not have given out (not base64, no time zone, a time PostgreSQL cannot hold)."""
    created, case_id = base64.urlsafe_b64decode(token.encode()).decode().split("|")
    at = datetime.fromisoformat(created)
    if at.tzinfo is None:
        raise ValueError("the page token's time has no time zone")
    try:
        return at.astimezone(UTC), uuid.UUID(case_id)
    except OverflowError as exc:
        raise ValueError("the page token's time is out of range") from exc

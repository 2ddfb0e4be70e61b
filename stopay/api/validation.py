"""Checks a SubmitEntryRequest field by field and turns it into a domain Entry.

Every problem is reported with the path of the field it concerns (``transfers[1].amount_minor``),
all at once, so an officer can fix the entry in one go.

A station's client checks an entry before the victim confirms it with :func:`unconfirmed_entry`
(everything but the confirmation), shows the victim
``stopay.domain.confirmation.confirmation_text_of(entry)`` and sends
``stopay.domain.confirmation.shown_digest_of(entry)`` as ``confirmation.shown_sha256``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from google.protobuf.timestamp_pb2 import Timestamp

from stopay.api.convert import CONFIRMATION_METHOD
from stopay.domain.accounts import ACCOUNT_NUMBER, BANK_CODE
from stopay.domain.confirmation import NEEDS_REFERENCE, Confirmation, ConfirmationMethod, shown_digest_of
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
    """The entry with the victim's confirmation, or :class:`InvalidRequest` naming every bad field;
    ``now`` is the service's clock. The confirmation's ``shown_sha256`` must be the digest of the
    request's own transfers as stopay reads them (docs/station.md), whenever every transfer has a
    time it can read."""
    c = _Checker()
    entry, complete = _read(c, request, now)
    expected = shown_digest_of(entry) if complete else None
    confirmation = _confirmation(c, request, now, expected)
    if c.violations:
        raise InvalidRequest(c.violations)
    return dataclasses.replace(entry, confirmation=confirmation)


def unconfirmed_entry(request: station_pb2.SubmitEntryRequest, now: datetime) -> Entry:
    """The entry without its confirmation (the request's is not read), or :class:`InvalidRequest`
    naming every other bad field: what a station's client checks before it shows the victim the
    transfers to confirm (``stopay.domain.confirmation.shown_digest_of``)."""
    c = _Checker()
    entry, _ = _read(c, request, now)
    if c.violations:
        raise InvalidRequest(c.violations)
    return entry


def shown_digest_of_request(request: station_pb2.SubmitEntryRequest) -> bytes | None:
    """The ``confirmation.shown_sha256`` stopay expects for ``request``, valid or not: the digest of
    its transfers as stopay reads them (text without surrounding spaces, an empty currency as CNY,
    times in UTC); None when a transfer's time is missing or out of range. For a client that fills
    in a confirmation without checking the entry first and leaves the rest to SubmitEntry."""
    c = _Checker()
    entry, complete = _read(c, request, datetime.now(UTC))
    return shown_digest_of(entry) if complete else None


def confirm_request(
    request: station_pb2.SubmitEntryRequest,
    method: ConfirmationMethod,
    *,
    reference: str = "",
    confirmed_at: datetime | None = None,
) -> None:
    """Fills in ``request.confirmation`` as a station's client does once the victim has confirmed
    the transfers: ``method``, ``reference``, ``confirmed_at`` (now when None) and the digest of the
    request's transfers as they are now (:func:`shown_digest_of_request`; left empty when a
    transfer's time cannot be read, which SubmitEntry refuses anyway). Confirm again after any
    change to the report number, the victim's name or the transfers."""
    request.confirmation.method = CONFIRMATION_METHOD.number(method)
    request.confirmation.reference = reference
    request.confirmation.confirmed_at.FromDatetime(confirmed_at or datetime.now(UTC))
    request.confirmation.shown_sha256 = shown_digest_of_request(request) or b""


def _confirmation(
    c: _Checker, request: station_pb2.SubmitEntryRequest, now: datetime, expected: bytes | None
) -> Confirmation | None:
    """The request's confirmation, with a violation for each bad field of it; ``expected`` is the
    digest of the request's transfers (None when they cannot be read, and so not compared)."""
    if not request.HasField("confirmation"):
        c.fail("confirmation", "is required: how the victim confirmed these transfers")
        return None
    given = request.confirmation
    method: ConfirmationMethod | None = None
    if given.method not in station_pb2.ConfirmationMethod.values():
        c.fail("confirmation.method", f"unknown confirmation method {given.method}")
    elif given.method == station_pb2.CONFIRMATION_METHOD_UNSPECIFIED:
        c.fail(
            "confirmation.method",
            "is required: CONFIRMATION_METHOD_DUAL_SCREEN, CONFIRMATION_METHOD_SIGNED_FORM or "
            "CONFIRMATION_METHOD_RECORDED_CALL",
        )
    else:
        method = ConfirmationMethod(CONFIRMATION_METHOD.name(given.method))
    reference = c.text("confirmation.reference", given.reference, required=False, max_len=64)
    if method in NEEDS_REFERENCE and not reference:
        what = "the form's number" if method is ConfirmationMethod.SIGNED_FORM else "the recording's reference"
        c.fail("confirmation.reference", f"is required for a {method.value.replace('_', ' ')}: {what}")
    at = None
    if not given.HasField("confirmed_at"):
        c.fail("confirmation.confirmed_at", "is required: when the victim confirmed the transfers")
    else:
        at = c.time("confirmation.confirmed_at", given.confirmed_at)
        if at is not None and at > now + FUTURE_SKEW:
            c.fail("confirmation.confirmed_at", "is in the future")
        elif at is not None and at < EARLIEST_TRANSFER:
            c.fail("confirmation.confirmed_at", f"must not be before {EARLIEST_TRANSFER:%Y-%m-%d}")
    shown = given.shown_sha256
    if len(shown) != 32:
        c.fail(
            "confirmation.shown_sha256",
            f"must be the SHA-256 (32 bytes) of the entry's confirmation text (docs/station.md), "
            f"not {len(shown)} bytes",
        )
    elif expected is not None and shown != expected:
        c.fail(
            "confirmation.shown_sha256",
            "is not the digest of these transfers as shown to the victim (docs/station.md): the entry "
            "differs from what the victim confirmed; show the victim the transfers again",
        )
    if method is None or at is None:
        return None
    return Confirmation(method, reference, at, bytes(shown))


def _read(c: _Checker, request: station_pb2.SubmitEntryRequest, now: datetime) -> tuple[Entry, bool]:
    """Every field but the confirmation, a violation for each bad one, and the entry as read: with
    the transfers whose time could be read, and whether that was every transfer."""
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
    entry = Entry(
        entry_id=request.entry_id,
        station_id=station_id,
        officer_id=officer_id,
        report_no=report_no,
        victim=victim,
        transfers=tuple(transfers),
        fraud_type=request.fraud_type,
        narrative=narrative,
    )
    return entry, len(transfers) == len(request.transfers)


def text_violations(field: str, value: str, *, required: bool = False, max_len: int = 128) -> list[Violation]:
    """The problems of one identifier or name outside a whole request (a filter, an operator id)."""
    c = _Checker()
    c.text(field, value, required=required, max_len=max_len)
    return c.violations

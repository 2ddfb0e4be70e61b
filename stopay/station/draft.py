"""The entry an officer is keying in, as the station client holds it between the two screens: what
the officer typed (the fields as text, with the names of SubmitEntryRequest's fields), what the
victim has confirmed or flagged, transfer by transfer, and the request it becomes. No I/O here.

A transfer the victim confirmed goes back to waiting for the victim as soon as the officer changes
any of its fields: the victim confirms what is on the screen, and every change is on it at once."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum

from stopay.domain.money import format_minor, parse_major

ENTRY_FIELDS = ("report_no", "victim.name", "victim.id_number", "victim.phone", "fraud_type", "narrative")
TRANSFER_FIELDS = (
    "payer.bank_code",
    "payer.number",
    "payer.holder_name",
    "payee.bank_code",
    "payee.number",
    "payee.holder_name",
    "amount_minor",  # typed in yuan, e.g. 580000 or 580,000.00
    "transferred_at",  # the station's local time, YYYY-MM-DDTHH:MM[:SS]
    "txn_id",
    "channel",
)
MAX_TRANSFERS = 50
MAX_FIELD = 200
MAX_LONGER = {"narrative": 4000}  # as stopay takes it
# What the victim confirms besides the transfers (the confirmation text, docs/station.md): a change
# to either sends every transfer back to the victim.
CONFIRMED_ENTRY_FIELDS = ("report_no", "victim.name")
_YUAN = re.compile(r"^\d{1,13}(\.\d{1,2})?$")
# What a datetime-local input gives: the local date and time, no offset.
_LOCAL_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?")


class Check(StrEnum):
    """Where the victim is with one transfer."""

    WAITING = "waiting"
    CONFIRMED = "confirmed"
    FLAGGED = "flagged"


class DraftError(ValueError):
    """A request the draft refuses: ``field`` names what is wrong (a form field, or ``draft``)."""

    def __init__(self, field_name: str, description: str) -> None:
        super().__init__(f"{field_name}: {description}")
        self.field = field_name
        self.description = description


@dataclass
class TransferDraft:
    fields: dict[str, str]
    rev: int = 1  # grows with every change the officer makes to this transfer
    check: Check = Check.WAITING
    checked_at: datetime | None = None


@dataclass
class Draft:
    entry_id: str
    fields: dict[str, str] = field(default_factory=dict)
    transfers: list[TransferDraft] = field(default_factory=list)
    version: int = 0
    case_id: str = ""  # set once stopay accepted the entry; the draft is then closed

    @classmethod
    def new(cls) -> Draft:
        return cls(entry_id=str(uuid.uuid4()), transfers=[TransferDraft(dict.fromkeys(TRANSFER_FIELDS, ""))])

    def edit(self, form: dict[str, object]) -> None:
        """Takes the officer's whole form: ``{"report_no": ..., "transfers": [{...}, ...]}``."""
        if self.case_id:
            raise DraftError("draft", "this entry was submitted already; start a new one")
        given = form.get("transfers")
        if not isinstance(given, list) or not 1 <= len(given) <= MAX_TRANSFERS:
            raise DraftError("transfers", f"must list 1 to {MAX_TRANSFERS} transfers")
        fields = {name: _text(form, name) for name in ENTRY_FIELDS}
        reconfirm = any(fields[name] != self.fields.get(name, "") for name in CONFIRMED_ENTRY_FIELDS)
        # A changed transfer's rev is one no transfer of this draft had before, so a confirmation of
        # what used to be at its place (a removed transfer, say) cannot land on it.
        rev = max((t.rev for t in self.transfers), default=0) + 1
        kept: list[TransferDraft] = []
        for i, raw in enumerate(given):
            if not isinstance(raw, dict):
                raise DraftError(f"transfers[{i}]", "must be an object of the transfer's fields")
            values = {name: _text(raw, name, f"transfers[{i}].") for name in TRANSFER_FIELDS}
            old = self.transfers[i] if i < len(self.transfers) else None
            if old is not None and old.fields == values and not reconfirm:
                kept.append(old)
            else:
                kept.append(TransferDraft(values, rev=rev))
        self.fields = fields
        self.transfers = kept
        self.version += 1

    def check(self, index: int, rev: int, check: Check, now: datetime) -> None:
        """The victim confirms or flags transfer ``index`` as shown at ``rev``."""
        if self.case_id:
            raise DraftError("draft", "this entry was submitted already")
        if not 0 <= index < len(self.transfers):
            raise DraftError("index", f"there is no transfer {index + 1}")
        transfer = self.transfers[index]
        if rev != transfer.rev:
            raise DraftError("rev", "the transfer changed on the screen meanwhile: check it again")
        transfer.check, transfer.checked_at = check, now
        self.version += 1

    @property
    def confirmed(self) -> bool:
        return bool(self.transfers) and all(t.check is Check.CONFIRMED for t in self.transfers)

    @property
    def confirmed_at(self) -> datetime | None:
        """When the victim confirmed the last transfer; None until every one is confirmed."""
        if not self.confirmed:
            return None
        return max(t.checked_at for t in self.transfers if t.checked_at is not None)

    def shown(self) -> dict[str, object]:
        """What both screens show of the draft (JSON)."""
        return {
            "entry_id": self.entry_id,
            "version": self.version,
            "fields": self.fields,
            "transfers": [
                {"fields": t.fields, "rev": t.rev, "check": t.check.value, "yuan": yuan_text(t.fields["amount_minor"])}
                for t in self.transfers
            ],
            "confirmed": self.confirmed,
            "case_id": self.case_id,
        }


def _text(source: dict[str, object], name: str, prefix: str = "") -> str:
    value = source.get(name, "")
    if not isinstance(value, str):
        raise DraftError(prefix + name, "must be text")
    longest = MAX_LONGER.get(name, MAX_FIELD)
    if len(value) > longest:
        raise DraftError(prefix + name, f"must be at most {longest} characters")
    return value.strip()


def fen(text: str) -> int:
    """Yuan as typed (``580000``, ``580,000.5``, ``¥1,000.00``) in fen, exactly; ValueError if not an amount."""
    cleaned = text.replace("，", ",").replace("¥", "").replace("￥", "").strip()
    if not _YUAN.fullmatch(cleaned.replace(",", "")):  # at most 13 digits of yuan: no overflow of fen
        raise ValueError("must be an amount in yuan, at most two decimals, e.g. 580000 or 580000.50")
    return parse_major(cleaned)


def yuan_text(text: str) -> str:
    """The typed amount as the screens show it (``¥580,000.00``); empty while it is not an amount."""
    try:
        minor = fen(text)
    except ValueError:
        return ""
    return format_minor(minor)


def local_time(text: str, offset: timezone) -> datetime:
    """The station's local time as typed (``2021-03-02T09:15``, as the victim's screen shows it: no
    other form, no offset) as an aware datetime."""
    try:
        if not _LOCAL_TIME.fullmatch(text):
            raise ValueError(text)
        at = datetime.fromisoformat(text).replace(tzinfo=offset)
        at.astimezone(UTC)  # a time a Timestamp cannot hold (the year 1, say) fails here
    except (ValueError, OverflowError) as exc:
        raise ValueError("must be a date and time, e.g. 2021-03-02T09:15") from exc
    return at


def utc_offset(text: str) -> timezone:
    """``+08:00`` as a timezone (the station's; China keeps one offset all year)."""
    match = re.fullmatch(r"([+-])(\d{2}):(\d{2})", text)
    if not match:
        raise ValueError(f"a UTC offset looks like +08:00, not {text!r}")
    sign = 1 if match.group(1) == "+" else -1
    return timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))

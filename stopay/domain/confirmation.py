"""The victim's confirmation of an entry's transfers, and the text that was confirmed.

A station shows the victim every transfer the officer keyed in, and the victim confirms them before
the entry is submitted. The entry carries how (a :class:`Confirmation`) and the SHA-256 of the
*confirmation text*: the canonical JSON of the report number, the victim's name and the transfers,
in the entry's order. stopay computes the same text from the entry it receives and refuses the entry
when the digests differ, then records the confirmation in the case's hash chain (docs/station.md,
"What the victim confirms").
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stopay.domain.entry import Entry, Transfer


class ConfirmationMethod(enum.StrEnum):
    """How the victim confirmed (the proto's ConfirmationMethod, by name)."""

    DUAL_SCREEN = "dual_screen"  # on the station's second screen, transfer by transfer
    SIGNED_FORM = "signed_form"  # on a printed form the victim signed; reference: the form's number
    RECORDED_CALL = "recorded_call"  # in a recorded phone report; reference: the recording's reference


# The methods whose confirmation names a reference (a form's number, a recording's reference).
NEEDS_REFERENCE = frozenset({ConfirmationMethod.SIGNED_FORM, ConfirmationMethod.RECORDED_CALL})


@dataclass(frozen=True, slots=True)
class Confirmation:
    method: ConfirmationMethod
    reference: str
    confirmed_at: datetime
    shown_sha256: bytes

    def record(self) -> dict[str, str]:
        """What the case's first event records: ``confirmed_at`` as ISO 8601 UTC text (microseconds
        when it has them), ``shown_sha256`` as lower-case hex."""
        return {
            "method": self.method.value,
            "reference": self.reference,
            "confirmed_at": self.confirmed_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "shown_sha256": self.shown_sha256.hex(),
        }


def _instant(at: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ``: UTC, whole seconds (a fraction is dropped, not rounded)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def confirmation_text(report_no: str, victim_name: str, transfers: Iterable[Transfer]) -> str:
    """The text the victim confirms: canonical JSON (keys sorted, no spaces, UTF-8 characters as
    they are) of the report number, the victim's name and each transfer in the entry's order. It
    must never change: a station and stopay compute it apart, and the chain keeps its digest."""
    data = {
        "report_no": report_no,
        "victim_name": victim_name,
        "transfers": [
            {
                "payer_bank": t.payer.bank_code,
                "payer_number": t.payer.number,
                "payee_bank": t.payee.bank_code,
                "payee_number": t.payee.number,
                "payee_holder": t.payee.holder_name,
                "amount_minor": t.amount_minor,
                "currency": t.currency,
                "transferred_at": _instant(t.transferred_at),
                "txn_id": t.txn_id,
            }
            for t in transfers
        ],
    }
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def shown_digest(report_no: str, victim_name: str, transfers: Iterable[Transfer]) -> bytes:
    """SHA-256 of the UTF-8 bytes of :func:`confirmation_text`: what ``shown_sha256`` must be."""
    return hashlib.sha256(confirmation_text(report_no, victim_name, transfers).encode()).digest()


def confirmation_text_of(entry: Entry) -> str:
    """:func:`confirmation_text` of an entry (its confirmation, if any, plays no part)."""
    return confirmation_text(entry.report_no, entry.victim.name, entry.transfers)


def shown_digest_of(entry: Entry) -> bytes:
    """:func:`shown_digest` of an entry: what its confirmation's ``shown_sha256`` must be."""
    return shown_digest(entry.report_no, entry.victim.name, entry.transfers)


_HOW = {
    ConfirmationMethod.DUAL_SCREEN.value: "on the station's second screen",
    ConfirmationMethod.SIGNED_FORM.value: "on signed form",
    ConfirmationMethod.RECORDED_CALL.value: "in recorded call",
}


def how_confirmed(record: Mapping[str, object]) -> str:
    """How a confirmation as recorded (:meth:`Confirmation.record`, the ``confirmation`` of a
    ``case.accepted`` event) was given, for people: "on signed form F-0012"."""
    how = _HOW.get(str(record.get("method")), f"by {record.get('method')}")
    reference = str(record.get("reference") or "")
    return f"{how} {reference}" if reference else how

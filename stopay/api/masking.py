"""The victim's view of a case: one pure transform of the messages a victim's screen is shown.

Every string field reachable from the message is classified by its full name: an account number, a
person's name, an identity number or phone, free text, or plain (ids, codes, states). Account
numbers, names and identity numbers are masked (``stopay.domain.accounts``); free text (event
summaries, order details, reasons) has every account number, name and identity number the message
carries masked where it appears, and every run of 12 or more digits masked too. A string field not
classified here is treated as free text, and tests/integration/test_victim_view.py fails until it is classified.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from stopay.domain.accounts import mask_identity, mask_name, mask_number
from stopay.v1 import station_pb2

ACCOUNT = frozenset({"stopay.v1.AccountRef.number"})
NAME = frozenset({"stopay.v1.AccountRef.holder_name", "stopay.v1.Case.victim_name", "stopay.v1.Victim.name"})
IDENTITY = frozenset({"stopay.v1.Victim.id_number", "stopay.v1.Victim.phone"})
TEXT = frozenset(
    {
        "stopay.v1.CaseEvent.summary",
        "stopay.v1.FreezeOrder.detail",
        "stopay.v1.LegalDocument.scope",
        "stopay.v1.LegalDocument.approver",
        "stopay.v1.PendingApproval.reason",
    }
)
PLAIN = frozenset(
    {
        "stopay.v1.Case.case_id",
        "stopay.v1.Case.entry_id",
        "stopay.v1.Case.station_id",
        "stopay.v1.Case.officer_id",
        "stopay.v1.Case.report_no",
        "stopay.v1.Case.currency",
        "stopay.v1.FreezeOrder.order_id",
        "stopay.v1.FreezeOrder.parent_order_id",
        "stopay.v1.FreezeOrder.currency",
        "stopay.v1.FreezeOrder.reason_code",
        "stopay.v1.FreezeOrder.incoming_txn_ids",
        "stopay.v1.IncomingTransfer.txn_id",
        "stopay.v1.AccountRef.bank_code",
        "stopay.v1.ExitFlow.txn_id",
        "stopay.v1.ExitFlow.order_id",
        "stopay.v1.LinkedCase.case_id",
        "stopay.v1.SharedAccount.other_case_ids",
        "stopay.v1.LinkedCase.txn_id",
        "stopay.v1.LinkedCase.station_id",
        "stopay.v1.Hold.case_id",
        "stopay.v1.LegalDocument.number",
        "stopay.v1.PendingApproval.approval_id",
        "stopay.v1.PendingApproval.requested_by",  # an officer's identity, as CaseEvent.actor
        "stopay.v1.CaseEvent.order_id",
        "stopay.v1.CaseEvent.actor",
    }
)
CLASSIFIED = ACCOUNT | NAME | IDENTITY | TEXT | PLAIN

LONG_DIGITS = re.compile(r"\d{12,}")
M = TypeVar("M", bound=Message)
MASKS: dict[frozenset[str], Callable[[str], str]] = {ACCOUNT: mask_number, NAME: mask_name, IDENTITY: mask_identity}


def victim_update(update: station_pb2.CaseUpdate) -> station_pb2.CaseUpdate:
    """The update as the victim's screen shows it (a masked copy; the argument is not changed)."""
    return masked(update)


def masked(message: M) -> M:
    copy = type(message)()
    copy.CopyFrom(message)
    secrets: dict[str, str] = {}
    for field, value in _strings(copy):
        for kind, mask in MASKS.items():
            if field.full_name in kind and value and (kind is not NAME or len(value) > 1):
                secrets[value] = mask(value)
    # Longest first, so a name inside a longer name (or number) does not leave the rest whole.
    ordered = sorted(secrets.items(), key=lambda item: -len(item[0]))

    def scrub(text: str) -> str:
        for secret, mask in ordered:
            text = text.replace(secret, mask)
        return LONG_DIGITS.sub(lambda m: mask_number(m.group()), text)

    _rewrite(copy, lambda field, value: _mask(field, value, scrub))
    return copy


def _mask(field: FieldDescriptor, value: str, scrub: Callable[[str], str]) -> str:
    for kind, mask in MASKS.items():
        if field.full_name in kind:
            return mask(value)
    return value if field.full_name in PLAIN else scrub(value)


def _strings(message: Message) -> Iterator[tuple[FieldDescriptor, str]]:
    for field, value in message.ListFields():
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            for item in _items(field, value):
                yield from _strings(item)
        elif field.type == FieldDescriptor.TYPE_STRING:
            for item in value if field.is_repeated else [value]:
                yield field, item


def _rewrite(message: Message, change: Callable[[FieldDescriptor, str], str]) -> None:
    for field, value in message.ListFields():
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            for item in _items(field, value):
                _rewrite(item, change)
        elif field.type == FieldDescriptor.TYPE_STRING:
            if field.is_repeated:
                value[:] = [change(field, item) for item in value]
            else:
                setattr(message, field.name, change(field, value))


def _items(field: FieldDescriptor, value: Any) -> Iterable[Message]:
    """The messages a message field holds: one, a repeated field's, or a map's values (a map of
    strings to strings is left alone: none holds what is masked here)."""
    message_type = field.message_type
    if message_type is not None and message_type.GetOptions().map_entry:
        entry = message_type.fields_by_name["value"]
        return list(value.values()) if entry.type == FieldDescriptor.TYPE_MESSAGE else []
    return value if field.is_repeated else [value]

"""Bank codes and account numbers: what is well-formed, and how to show them without exposing them."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence, Set
from dataclasses import dataclass
from typing import Any

BANK_CODE = re.compile(r"[A-Z][A-Z0-9]{1,10}")
ACCOUNT_NUMBER = re.compile(r"[0-9A-Z]{6,34}")


@dataclass(frozen=True, slots=True, order=True)
class AccountKey:
    bank_code: str
    number: str

    def __str__(self) -> str:
        return f"{self.bank_code}:{self.number}"

    @property
    def masked(self) -> str:
        return f"{self.bank_code}:{mask_number(self.number)}"


@dataclass(frozen=True, slots=True, order=True)
class CaseAccount:
    """One account as one case knows it: the key of what the case knows there."""

    case_id: uuid.UUID
    bank_code: str
    account_number: str

    @property
    def account(self) -> AccountKey:
        return AccountKey(self.bank_code, self.account_number)


def mask_number(number: str) -> str:
    """Shows at most the first 6 and last 4 characters, and never more than half of the number."""
    head = min(6, len(number) // 4)
    tail = min(4, len(number) // 4)
    return number[:head] + "*" * (len(number) - head - tail) + number[len(number) - tail :]


def mask_identity(value: str) -> str:
    """Identity document numbers: the first 3 and last 2 characters at most."""
    head = min(3, len(value) // 6)
    tail = min(2, len(value) // 6)
    return value[:head] + "*" * (len(value) - head - tail) + value[len(value) - tail :]


def mask_name(name: str) -> str:
    """Holder and victim names: the first character, then one ``*`` for each other character (a
    one-character name is all ``*``)."""
    if len(name) <= 1:
        return "*" * len(name)
    return name[0] + "*" * (len(name) - 1)


def held_for_other_case(
    bank_code: str, number: str, others: Sequence[tuple[uuid.UUID, int]], recorded: Set[uuid.UUID]
) -> dict[str, Any] | None:
    """The detail of an ``account.held_for_other_case`` event when a case's trail reaches an account
    where ``others`` (case_id, held_minor; oldest case first) hold money, the account masked; None
    when no other case holds money there, or every one of them was recorded there already
    (``recorded``)."""
    holding = [(case_id, held) for case_id, held in others if held > 0]
    if not holding or {case_id for case_id, _ in holding} <= set(recorded):
        return None
    return {
        "bank_code": bank_code,
        "account": mask_number(number),
        "others": [{"case_id": str(case_id), "held_minor": held} for case_id, held in holding],
        "held_by_others_minor": sum(held for _, held in holding),
    }


def held_elsewhere_note(detail: str, others: Sequence[tuple[uuid.UUID, int]]) -> str:
    """An order's detail when it held less than it asked at an account where ``others`` (case_id,
    held_minor) hold money: the detail, then which cases hold money there."""
    holding = [str(case_id) for case_id, held in others if held > 0]
    if not holding:
        return detail
    note = f"money here is held for case(s) {', '.join(holding)}"
    return f"{detail}; {note}" if detail else note

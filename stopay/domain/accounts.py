"""Bank codes and account numbers: what is well-formed, and how to show them without exposing them."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

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

"""Text fit for a record: which characters are control characters (C0, DEL and C1), among them NUL,
which PostgreSQL cannot store at all."""

from __future__ import annotations


def is_control(c: str) -> bool:
    code = ord(c)
    return code < 0x20 or 0x7F <= code < 0xA0


def has_control(text: str) -> bool:
    return any(is_control(c) for c in text)

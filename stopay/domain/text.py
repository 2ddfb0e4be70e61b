"""Text fit for a record: which characters are control characters (C0, DEL and C1), among them NUL,
which PostgreSQL cannot store at all, and which characters no field of a request may hold."""

from __future__ import annotations

import re

# Tab and newline: the only characters of the refused kinds that free text (a narrative, a reason,
# a bank's detail) may hold. Identifiers and names hold none.
FREE_TEXT_ALLOWED = frozenset("\t\n")
_BIDI = frozenset(range(0x202A, 0x202F)) | frozenset(range(0x2066, 0x206A))


def is_control(c: str) -> bool:
    code = ord(c)
    return code < 0x20 or 0x7F <= code < 0xA0


def has_control(text: str) -> bool:
    return any(is_control(c) for c in text)


def is_refused(c: str, *, free_text: bool = False) -> bool:
    """Whether ``c`` may not appear in text a caller sends, the one rule every text check applies.

    Refused: control characters (C0 U+0000–U+001F, DEL U+007F, C1 U+0080–U+009F, among them NEL
    U+0085), which end lines or records in logs and files, and NUL, which PostgreSQL cannot store;
    the line and paragraph separators U+2028 and U+2029; the bidirectional embeddings, overrides and
    isolates U+202A–U+202E and U+2066–U+2069, which make text read otherwise than it is stored (an
    account or an officer that looks like another); the byte order mark U+FEFF; the noncharacters
    U+FDD0–U+FDEF and U+xFFFE and U+xFFFF of every plane; lone surrogates U+D800–U+DFFF. With
    ``free_text``, tab and newline are allowed.
    """
    if free_text and c in FREE_TEXT_ALLOWED:
        return False
    code = ord(c)
    return (
        is_control(c)
        or code in (0x2028, 0x2029, 0xFEFF)
        or code in _BIDI
        or 0xD800 <= code < 0xE000
        or 0xFDD0 <= code <= 0xFDEF
        or code & 0xFFFE == 0xFFFE
    )


def _refused_pattern(free_text: bool) -> re.Pattern[str]:
    """One character that :func:`is_refused`, as a regular expression (tests/unit/test_text_rule.py
    holds the two to the same answer for every code point)."""
    ranges = [(0x00, 0x08), (0x0B, 0x1F)] if free_text else [(0x00, 0x1F)]
    ranges += [(0x7F, 0x9F), (0x2028, 0x202E), (0x2066, 0x2069), (0xD800, 0xDFFF), (0xFDD0, 0xFDEF), (0xFEFF, 0xFEFF)]
    ranges += [(plane << 16 | 0xFFFE, plane << 16 | 0xFFFF) for plane in range(17)]
    return re.compile("[" + "".join(f"\\U{low:08x}-\\U{high:08x}" for low, high in ranges) + "]")


# Checked a field at a time, in C: a character at a time in Python took a few per cent of a
# SubmitEntry's time in the server.
_REFUSED = {free_text: _refused_pattern(free_text) for free_text in (False, True)}


def first_refused(text: str, *, free_text: bool = False) -> str | None:
    """The first character of ``text`` that :func:`is_refused`, as ``U+XXXX``; None if there is none."""
    found = _REFUSED[free_text].search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def refusal(text: str, *, free_text: bool = False) -> str | None:
    """Why ``text`` is refused (for a field violation's description), or None when it may be kept."""
    found = first_refused(text, free_text=free_text)
    if found is None:
        return None
    return (
        f"must not contain {found}: no control characters, line or paragraph separators, bidirectional "
        "controls, byte order marks or noncharacters" + (" (tab and newline are allowed)" if free_text else "")
    )

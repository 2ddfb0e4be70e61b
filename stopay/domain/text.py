"""Text fit for a record: which characters are control characters (C0, DEL and C1), among them NUL,
which PostgreSQL cannot store at all, and which characters no field of a request may hold."""

from __future__ import annotations

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


def first_refused(text: str, *, free_text: bool = False) -> str | None:
    """The first character of ``text`` that :func:`is_refused`, as ``U+XXXX``; None if there is none."""
    for c in text:
        if is_refused(c, free_text=free_text):
            return f"U+{ord(c):04X}"
    return None


def refusal(text: str, *, free_text: bool = False) -> str | None:
    """Why ``text`` is refused (for a field violation's description), or None when it may be kept."""
    found = first_refused(text, free_text=free_text)
    if found is None:
        return None
    return (
        f"must not contain {found}: no control characters, line or paragraph separators, bidirectional "
        "controls, byte order marks or noncharacters" + (" (tab and newline are allowed)" if free_text else "")
    )

"""A bank's text as it can be recorded (service/answers/checked.printable): every control character
and lone surrogate written out as an escape, cut to its limit; text with none, short enough, is
kept as the very same object."""

from __future__ import annotations

import random

from stopay.domain.text import is_control
from stopay.service.answers.checked import printable


def by_hand(text: str, limit: int) -> str:
    out = []
    for c in text:
        code = ord(c)
        out.append(f"\\x{code:02x}" if is_control(c) else f"\\u{code:04x}" if 0xD800 <= code < 0xE000 else c)
    clean = "".join(out)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def test_clean_text_is_kept_as_it_is() -> None:
    text = "SIM-ICBC-000001 薛某 ok\u00a0"
    assert printable(text, 140) is text


def test_every_escape_and_cut_as_written_out_by_hand() -> None:
    for text in ("a\x00b", "\x85x", "x\ud800", "\x7f", "\x9f", "\x1b[31m", "a" * 50, "\udfff中"):
        assert printable(text, 40) == by_hand(text, 40), repr(text)
    rng = random.Random(12)
    for _ in range(5000):
        text = "".join(
            chr(rng.choice((rng.randrange(0, 0x300), rng.randrange(0xD700, 0xE100)))) for _ in range(rng.randrange(9))
        )
        assert printable(text, 6) == by_hand(text, 6), repr(text)

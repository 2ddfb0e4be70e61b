"""The deny list: certificates refused by serial number before they expire (docs/security.md#revocation)."""

from __future__ import annotations

import re

from stopay.security.pki import PkiError

_HEX = re.compile(r"[0-9A-Fa-f]{1,40}")


def parse_deny_list(text: str) -> frozenset[int]:
    """The serial numbers of a deny list: one a line in hex (as ``stopay certs issue`` prints them,
    or ``openssl x509 -serial`` with its ``serial=``), any case, ``:`` between bytes allowed;
    ``#`` starts a comment; blank lines are skipped. PkiError names the first bad line."""
    serials = set()
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        digits = entry.removeprefix("serial=").replace(":", "")
        if not entry:
            continue
        if not _HEX.fullmatch(digits):
            raise PkiError(f"deny list line {number}: {entry!r} is not a serial number in hex")
        serials.add(int(digits, 16))
    return frozenset(serials)

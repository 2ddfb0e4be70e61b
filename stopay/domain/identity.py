"""Who a caller is: a role and a name, read from the SAN URI ``stopay://ROLE/NAME`` of the caller's
verified certificate (never from metadata or request fields)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

SCHEME = "stopay://"
NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


class Role(enum.StrEnum):
    STATION = "station"  # a police station's entry client
    OFFICER = "officer"  # an investigating officer: hold steps
    SUPERVISOR = "supervisor"  # an officer who also approves what needs a second pair of eyes
    CENTER = "center"  # an anti-fraud center: reads the cases of its region
    BANK = "bank"  # a bank: reports on the orders sent to it
    AUDITOR = "auditor"  # reads everything, changes nothing
    OPERATOR = "operator"  # retries orders a bank could not be reached for
    SERVICE = "service"  # stopay itself, calling the banks


class NotAnIdentity(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Identity:
    role: Role
    name: str

    @property
    def uri(self) -> str:
        return f"{SCHEME}{self.role}/{self.name}"

    def __str__(self) -> str:
        return self.uri


def parse_identity(uri: str) -> Identity:
    """``stopay://ROLE/NAME`` -> Identity; anything else raises :class:`NotAnIdentity`."""
    if not uri.startswith(SCHEME):
        raise NotAnIdentity(f"{uri!r} is not a stopay identity (stopay://ROLE/NAME)")
    role, sep, name = uri[len(SCHEME) :].partition("/")
    if not sep:
        raise NotAnIdentity(f"{uri!r} has no name (stopay://ROLE/NAME)")
    try:
        parsed_role = Role(role)
    except ValueError:
        raise NotAnIdentity(f"{uri!r} names an unknown role {role!r}") from None
    if not NAME.fullmatch(name):
        raise NotAnIdentity(f"{uri!r}: the name must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' or '-'")
    return Identity(parsed_role, name)


def identity_of(uris: list[str]) -> Identity:
    """The one stopay identity among a certificate's SAN URIs; none, or more than one, is refused."""
    found = [u for u in uris if u.startswith(SCHEME)]
    if len(found) != 1:
        raise NotAnIdentity(f"the certificate carries {len(found)} stopay identities; exactly one is needed")
    return parse_identity(found[0])

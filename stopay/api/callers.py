"""The caller of the RPC being served, as the guard established it, for the servicers to read.

With TLS the caller is the identity of its verified certificate, and that identity is the actor the
case's audit chain records. On a plain-text loopback server (``--insecure``, for development and
tests) nobody is authenticated: the caller is trusted, and the actor is taken from the request's
fields as it names itself.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from dataclasses import dataclass, field

from stopay.domain.authz import Cell, Scope, may_see_station
from stopay.domain.identity import Identity


@dataclass(frozen=True, slots=True)
class Caller:
    identity: Identity | None  # None: a plain-text loopback server, the caller trusted
    cell: Cell | None = None
    regions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def actor(self, unauthenticated: str) -> str:
        """The actor for the audit chain: the certificate's identity, else ``unauthenticated`` (the
        name the request gives, on a plain-text loopback server)."""
        return self.identity.uri if self.identity else unauthenticated

    @property
    def role(self) -> str | None:
        return self.identity.role.value if self.identity else None

    def may_see(self, station_id: str) -> bool:
        if self.identity is None or self.cell is None:
            return True
        return may_see_station(self.cell.scope, self.identity, station_id, self.regions)

    def station_prefixes(self) -> tuple[str, ...] | None:
        """For listing: the station-id prefixes the caller may see (None: all)."""
        if self.identity is None or self.cell is None or self.cell.scope is Scope.ALL:
            return None
        if self.cell.scope is Scope.REGION:
            return self.regions.get(self.identity.name, ())
        return (self.identity.name,) if self.cell.scope is Scope.OWN_STATION else ()


TRUSTED = Caller(None)
_current: contextvars.ContextVar[Caller] = contextvars.ContextVar("stopay_caller")


def current() -> Caller:
    """The caller; outside a call the guard let through there is none (a defect, never "trusted")."""
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError("no caller: the RPC did not pass through the guard") from None


def set_current(caller: Caller) -> contextvars.Token[Caller]:
    return _current.set(caller)


def reset_current(token: contextvars.Token[Caller]) -> None:
    try:
        _current.reset(token)
    except ValueError:  # a stream closed from another context: that context never saw the caller
        pass

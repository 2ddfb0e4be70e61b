"""Who may call what: one table of method x role.

A cell says that the role may call the method, within a scope, and which request field, if any, is
the caller's own name: empty, it is filled in from the certificate; different, the call is refused.
A method or role not in the table is refused. Health checking and server reflection are open to
every verified caller.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stopay.domain.identity import Identity, Role


class Scope(enum.Enum):
    ALL = "all"  # every case
    OWN_STATION = "own station"  # the cases the caller's station submitted
    REGION = "region"  # the cases of the stations of the caller's region
    OWN_BANK = "own bank"  # the orders addressed to the caller's bank


@dataclass(frozen=True, slots=True)
class Cell:
    scope: Scope = Scope.ALL
    # The request field that must be the caller's own name ("by.officer_id"), if any.
    bind: str | None = None
    # The only event kinds the role may read (a request's ``kinds``: none named means these); empty:
    # any kind.
    kinds: tuple[str, ...] = ()


STATION = "/stopay.v1.StationService/"
HOLDS = "/stopay.v1.HoldService/"
AUDIT = "/stopay.v1.AuditService/"
OPEN_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)

_READ_CASES = {
    Role.STATION: Cell(Scope.OWN_STATION),
    Role.CENTER: Cell(Scope.REGION),
    Role.OFFICER: Cell(),
    Role.SUPERVISOR: Cell(),
    Role.AUDITOR: Cell(),
    Role.OPERATOR: Cell(),
}
_HOLD_STEP = {Role.OFFICER: Cell(bind="by.officer_id"), Role.SUPERVISOR: Cell(bind="by.officer_id")}
_AUDIT = {Role.AUDITOR: Cell()}

TABLE: Mapping[str, Mapping[Role, Cell]] = {
    STATION + "SubmitEntry": {Role.STATION: Cell(Scope.OWN_STATION, bind="station_id")},
    STATION + "GetCase": _READ_CASES,
    STATION + "WatchCase": _READ_CASES,
    STATION + "ListCases": {**_READ_CASES, Role.STATION: Cell(Scope.OWN_STATION, bind="station_id")},
    STATION + "ListBanks": {Role.STATION: Cell(), Role.CENTER: Cell(), Role.OFFICER: Cell(), Role.OPERATOR: Cell()},
    "/stopay.v1.BankGateway/ReportFreezeOutcome": {Role.BANK: Cell(Scope.OWN_BANK, bind="bank_code")},
    # A bank files its own account holders' objections (the account must be at the bank).
    "/stopay.v1.BankGateway/FileObjection": {Role.BANK: Cell(Scope.OWN_BANK, bind="bank_code")},
    HOLDS + "ListHolds": {Role.OFFICER: Cell(), Role.SUPERVISOR: Cell(), Role.AUDITOR: Cell()},
    HOLDS + "RenewStop": _HOLD_STEP,
    HOLDS + "ReleaseHold": _HOLD_STEP,
    # A formal freeze and a return take effect only once a second identity, a supervisor, approves.
    HOLDS + "Formalize": _HOLD_STEP,
    HOLDS + "ReturnFunds": _HOLD_STEP,
    HOLDS + "Approve": {Role.SUPERVISOR: Cell(bind="by.officer_id")},
    # A holder's objection: taken at a station by an officer, decided by an officer or supervisor as
    # themselves; the list of open and overdue (escalated) ones is the supervisor's and the center's too.
    HOLDS + "FileObjection": _HOLD_STEP,
    HOLDS + "DecideObjection": _HOLD_STEP,
    HOLDS + "ListObjections": {
        Role.OFFICER: Cell(),
        Role.SUPERVISOR: Cell(),
        Role.CENTER: Cell(),
        Role.AUDITOR: Cell(),
    },
    # Review of large freezes: a supervisor decides, as themselves; the list is the officers', the
    # center's and the auditors' too.
    HOLDS + "DecideReview": {Role.SUPERVISOR: Cell(bind="by.officer_id")},
    HOLDS + "ListReviews": {
        Role.OFFICER: Cell(),
        Role.SUPERVISOR: Cell(),
        Role.CENTER: Cell(),
        Role.AUDITOR: Cell(),
    },
    "/stopay.v1.OperatorService/RetryOrder": {Role.OPERATOR: Cell(bind="operator_id")},
    AUDIT + "GetCaseTrail": _AUDIT,
    AUDIT + "GetAccountHistory": _AUDIT,
    AUDIT + "GetReport": _AUDIT,
    AUDIT + "VerifyLog": _AUDIT,
    # The center follows the alerts of repeat accounts through the export, and reads no other event.
    AUDIT + "ExportEvents": {**_AUDIT, Role.CENTER: Cell(kinds=("account.held_for_other_case",))},
    # Repeat mule accounts: across every case, for the center that follows them too.
    AUDIT + "ListRepeatAccounts": {Role.AUDITOR: Cell(), Role.CENTER: Cell()},
}


class Denied(Exception):
    """The caller may not do this; ``reason`` is stable for programs (ROLE_NOT_ALLOWED, ...)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def is_open(method: str) -> bool:
    return method.startswith(OPEN_PREFIXES)


def cell_for(method: str, identity: Identity) -> Cell:
    """The table's cell for this caller and method, or :class:`Denied`."""
    cells = TABLE.get(method)
    if cells is None:
        raise Denied(f"{method} is not a method stopay authorizes anyone for", "METHOD_NOT_ALLOWED")
    cell = cells.get(identity.role)
    if cell is None:
        allowed = ", ".join(sorted(r.value for r in cells))
        raise Denied(
            f"the role {identity.role} may not call {method.rsplit('/', 1)[-1]} (allowed: {allowed})",
            "ROLE_NOT_ALLOWED",
        )
    return cell


def bound_value(cell: Cell, identity: Identity, given: str) -> str:
    """The value of the cell's bound field: the caller's name when the request left it empty; a
    different value is refused."""
    if given and given != identity.name:
        raise Denied(
            f"{cell.bind} must be the caller's own name {identity.name!r} (from its certificate), not {given!r}",
            "IDENTITY_MISMATCH",
        )
    return identity.name


def allowed_kinds(cell: Cell, asked: Sequence[str]) -> tuple[str, ...]:
    """The event kinds a request of this cell reads: those asked, or the cell's when none is; a
    kind the cell does not allow is refused."""
    if not cell.kinds:
        return tuple(asked)
    outside = sorted(set(asked) - set(cell.kinds))
    if outside:
        raise Denied(
            f"events of kind {', '.join(outside)} are not for this role (allowed: {', '.join(cell.kinds)})",
            "KIND_NOT_ALLOWED",
        )
    return tuple(asked) or cell.kinds


def may_see_station(scope: Scope, identity: Identity, station_id: str, regions: Mapping[str, tuple[str, ...]]) -> bool:
    """Whether a caller with this scope may read a case of ``station_id``. A center's region is the
    station-id prefixes configured for its name; a center with none configured sees nothing."""
    if scope is Scope.ALL:
        return True
    if scope is Scope.OWN_STATION:
        return station_id == identity.name
    if scope is Scope.REGION:
        return any(station_id.startswith(p) for p in regions.get(identity.name, ()))
    return False

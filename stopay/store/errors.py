"""Turns the driver's errors into the store's (``stopay.domain.errors``), the asyncpg error kept as
``__cause__``; and the errors of opening a database whose schema does not fit."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import asyncpg

from stopay.domain.errors import StoreError, StoreInvalid, StoreUnavailable

# SQLSTATE classes and codes of a database that is, for now, out of reach: connection exceptions,
# an operator's intervention (shutdown, crash, cannot connect now, query cancelled), insufficient
# resources. Conflicts with another transaction pass too (serialization failure, deadlock), and so
# does a write refused as read-only (25006): the server was a primary when the connection was made
# and has been demoted since (a failover), or the DSN reached a standby; the next connection finds
# the primary (docs/reliability.md).
_UNAVAILABLE_CLASSES = ("08", "57", "53")
_CONFLICTS = ("40001", "40P01")
READ_ONLY = "25006"
# The driver's own refusal of a value quotes the value: only the argument and the reason are kept.
_CLOSED = re.compile(r"\b(closed|closing|terminated)\b")
_ARGUMENT = re.compile(r"^(invalid input for query argument \$\d+):.*?( \([^()]*\))?$", re.DOTALL)


@contextlib.contextmanager
def database_errors(what: str) -> Iterator[None]:
    """Turns a driver error into a StoreError saying ``what`` failed, the driver's error as cause:
    StoreUnavailable when trying again may pass, StoreInvalid when the data is at fault."""
    try:
        yield
    except asyncpg.InterfaceError as exc:
        # The driver uses one class for a connection or pool that is closed (the database is out of
        # reach for now) and for a call that could never work (a wrong number of arguments): only
        # the first may pass when tried again.
        if not _CLOSED.search(str(exc)):
            raise StoreError(
                f"{what}: the driver refused the call ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''})"
            ) from exc
        raise StoreUnavailable(f"{what}: the database is unavailable ({type(exc).__name__})") from exc
    except (
        OSError,
        asyncpg.PostgresConnectionError,
        asyncpg.CannotConnectNowError,
        asyncpg.AdminShutdownError,
        asyncpg.InsufficientResourcesError,
        asyncpg.InternalClientError,
        TimeoutError,
    ) as exc:
        raise StoreUnavailable(f"{what}: the database is unavailable ({type(exc).__name__})") from exc
    except asyncpg.PostgresError as exc:
        # The primary message and SQLSTATE only: the detail can quote a whole row (a victim's
        # name and identity number), and this text is logged.
        state = exc.sqlstate or ""
        message = _ARGUMENT.sub(r"\1\2", getattr(exc, "message", None) or str(exc) or type(exc).__name__)
        said = f"{message} [{state}]"
        if state in _CONFLICTS:
            raise StoreUnavailable(f"{what}: a conflict with another transaction ({type(exc).__name__})") from exc
        if state == READ_ONLY:
            raise StoreUnavailable(f"{what}: the database is read-only, not a primary ({type(exc).__name__})") from exc
        if state.startswith(_UNAVAILABLE_CLASSES):
            raise StoreUnavailable(f"{what}: the database is unavailable ({type(exc).__name__})") from exc
        if state.startswith("22"):
            raise StoreInvalid(f"{what}: a value cannot be stored: {said}") from exc
        raise StoreError(f"{what}: {said}") from exc


class SchemaTooNew(StoreError):
    """The database was migrated by a newer stopay than this one."""


class MigrationDrift(StoreError):
    """A migration already applied differs from the file of the same number."""


class SchemaBehind(StoreError):
    """The database needs migrations this role may not apply: the owner must run them."""

"""Errors of the storage layer; the asyncpg error that caused one is kept as ``__cause__``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import asyncpg


class StoreError(Exception):
    """A database operation failed; nothing of it was applied."""


class StoreUnavailable(StoreError):
    """The database could not be reached, the connection broke or a concurrent transaction got in
    the way; nothing was applied and the same call may be retried."""


@contextlib.contextmanager
def database_errors(what: str) -> Iterator[None]:
    """Turns a driver error into a StoreError saying ``what`` failed, the driver's error as cause."""
    try:
        yield
    except (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError,
            asyncpg.AdminShutdownError, asyncpg.InsufficientResourcesError, asyncpg.InternalClientError,
            TimeoutError) as exc:
        raise StoreUnavailable(f"{what}: the database is unavailable ({type(exc).__name__})") from exc
    except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError) as exc:
        raise StoreUnavailable(f"{what}: a conflict with another transaction ({type(exc).__name__})") from exc
    except asyncpg.PostgresError as exc:
        # The primary message and SQLSTATE only: the detail can quote a whole row (a victim's
        # name and identity number), and this text is logged.
        raise StoreError(f"{what}: {getattr(exc, 'message', type(exc).__name__)} [{exc.sqlstate}]") from exc


class EntryConflict(StoreError):
    """The entry_id was accepted before with a different payload."""

    def __init__(self, entry_id: str, case_id: str) -> None:
        super().__init__(f"entry_id {entry_id!r} was already used for case {case_id} with other content")
        self.entry_id = entry_id
        self.case_id = case_id


class SchemaTooNew(StoreError):
    """The database was migrated by a newer stopay than this one."""


class MigrationDrift(StoreError):
    """A migration already applied differs from the file of the same number."""

"""Errors of the storage layer; the asyncpg error that caused one is kept as ``__cause__``."""

from __future__ import annotations


class StoreError(Exception):
    """A database operation failed; nothing of it was applied."""


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

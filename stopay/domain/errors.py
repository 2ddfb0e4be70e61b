"""The failures the store reports, as plain exceptions. The store raises them, keeping the database's
own error as ``__cause__``; the layers above catch them without importing the store."""

from __future__ import annotations


class StoreError(Exception):
    """A database operation failed; nothing of it was applied."""


class StoreUnavailable(StoreError):
    """The database could not be reached, the connection broke or a concurrent transaction got in
    the way; nothing was applied and the same call may be retried."""


class StoreInvalid(StoreError):
    """The database refused a value as invalid data (SQLSTATE class 22: a NUL character, a string
    too long, a number or a time out of range), or the driver could not encode it: the input is at
    fault, and the same call would fail again."""


class EntryConflict(StoreError):
    """The entry_id was accepted before with a different payload."""

    def __init__(self, entry_id: str, case_id: str) -> None:
        super().__init__(f"entry_id {entry_id!r} was already used for case {case_id} with other content")
        self.entry_id = entry_id
        self.case_id = case_id


class HoldNotFound(StoreError):
    """No hold of that case on that account."""


class ObjectionNotFound(StoreError):
    """No objection has that id."""


class RequestConflict(StoreError):
    """The request_id was used before for a different step."""

    def __init__(self, message: str, request_id: str = "") -> None:
        super().__init__(message)
        self.request_id = request_id


class ApprovalNotFound(StoreError):
    """No approval has that id."""


class ReviewNotFound(StoreError):
    """The case has no review of large freezes (none of its freezes passed the thresholds), or
    there is no such case."""

"""The one error boundary: whatever a servicer raises becomes a gRPC status here, the same way for
every service. A refusal says why (google.rpc.BadRequest or ErrorInfo); a store failure is UNAVAILABLE
only when sending the same request again may pass; anything unexpected is INTERNAL, logged with an
id the caller is given, and never reaches the client as UNKNOWN."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import structlog
from google.rpc import code_pb2, status_pb2
from grpc_status import rpc_status

from stopay.api.errors import (
    already_exists,
    failed_precondition,
    invalid_argument,
    not_found,
    refusal,
    store_status,
)
from stopay.api.validation import InvalidRequest, Violation
from stopay.domain.approvals import ApprovalRefused
from stopay.domain.authz import Denied
from stopay.domain.errors import (
    ApprovalNotFound,
    EntryConflict,
    HoldNotFound,
    ObjectionNotFound,
    RequestConflict,
    ReviewNotFound,
    StoreError,
)
from stopay.domain.holds import HoldRefused
from stopay.domain.objections import ReleasePartRefused
from stopay.domain.orders import UnknownAnswer
from stopay.domain.review import ReviewRefused

log = structlog.get_logger(__name__)

# What to tell a caller whose request met an unavailable database, by method.
_ADVICE = {
    "SubmitEntry": "retry with the same entry_id",
    "ReportFreezeOutcome": "call back again",
}
_DEFAULT_ADVICE = "send the same request again"


def about(exc: BaseException, **target: object) -> BaseException:
    """Adds what the failed call was about (the case, the bank) to the refusal's ErrorInfo."""
    exc.__dict__.setdefault("target", {}).update(target)
    return exc


def status_for(exc: BaseException, method: str) -> grpc.Status:
    target: dict[str, Any] = getattr(exc, "target", {})
    name = method.rsplit("/", 1)[-1]
    if isinstance(exc, InvalidRequest):
        return invalid_argument(exc.violations)
    if isinstance(exc, UnknownAnswer):
        return invalid_argument([Violation("held_minor", str(exc))])
    if isinstance(exc, ReleasePartRefused):
        return invalid_argument([Violation(exc.field, str(exc))])
    if isinstance(exc, Denied):
        return refusal(code_pb2.PERMISSION_DENIED, str(exc), exc.reason, method=name)
    if isinstance(exc, EntryConflict):
        return failed_precondition(str(exc), "ENTRY_ID_REUSED", entry_id=exc.entry_id, case_id=exc.case_id)
    if isinstance(exc, HoldRefused):
        return failed_precondition(str(exc), "HOLD_STEP_REFUSED", **{**target, **exc.facts})
    if isinstance(exc, ApprovalRefused):
        return failed_precondition(str(exc), exc.reason, **{**target, **exc.facts})
    if isinstance(exc, ApprovalNotFound):
        return not_found(str(exc), "APPROVAL_NOT_FOUND", **target)
    if isinstance(exc, ObjectionNotFound):
        return not_found(str(exc), "OBJECTION_NOT_FOUND", **target)
    if isinstance(exc, ReviewRefused):
        return failed_precondition(str(exc), exc.reason, **{**target, **exc.facts})
    if isinstance(exc, ReviewNotFound):
        return not_found(str(exc), "REVIEW_NOT_FOUND", **target)
    if isinstance(exc, HoldNotFound):
        return not_found(str(exc), "HOLD_NOT_FOUND", **target)
    if isinstance(exc, RequestConflict):
        return already_exists(str(exc), "REQUEST_ID_REUSED", **target, request_id=exc.request_id)
    if isinstance(exc, StoreError):
        log.error("rpc.store_failed", method=name, error=str(exc), cause=type(exc.__cause__).__name__)
        code, message = store_status(exc, _ADVICE.get(name, _DEFAULT_ADVICE))
        return _plain(code, message)
    incident = uuid.uuid4().hex[:12]
    log.error("rpc.failed", method=name, incident=incident, exc_info=exc)
    return _plain(
        grpc.StatusCode.INTERNAL, f"an internal error (incident {incident}); the details are in the server log"
    )


def _plain(code: grpc.StatusCode, message: str) -> grpc.Status:
    return rpc_status.to_status(status_pb2.Status(code=code.value[0], message=message))

"""gRPC error replies with structured details: google.rpc.BadRequest naming each bad field of an
INVALID_ARGUMENT, and google.rpc.ErrorInfo (reason, domain "stopay", metadata) on a refusal."""

from __future__ import annotations

from typing import TypeVar

import grpc
import structlog
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from stopay.api.validation import InvalidRequest, Violation
from stopay.domain.errors import StoreError, StoreInvalid, StoreUnavailable

log = structlog.get_logger(__name__)
T = TypeVar("T")


def invalid_argument(violations: list[Violation]) -> grpc.Status:
    detail = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description) for v in violations
        ]
    )
    status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=str(InvalidRequest(violations)))
    status.details.add().Pack(detail)
    return rpc_status.to_status(status)


def store_status(exc: StoreError, advice: str) -> tuple[grpc.StatusCode, str]:
    """UNAVAILABLE only when the database could not be reached or a concurrent transaction got in
    the way (safe to retry); INVALID_ARGUMENT when it refused a value of the request as invalid data
    (sending it again would fail again); INTERNAL otherwise."""
    if isinstance(exc, StoreUnavailable):
        return grpc.StatusCode.UNAVAILABLE, f"the database is unavailable; {advice}"
    if isinstance(exc, StoreInvalid):
        return (
            grpc.StatusCode.INVALID_ARGUMENT,
            "a value of the request cannot be stored; the error is in the server log",
        )
    return grpc.StatusCode.INTERNAL, "the database refused the operation; the error is in the server log"


DOMAIN = "stopay"


def refusal(code: int, message: str, reason: str, **metadata: object) -> grpc.Status:
    """A refusal with its text and a google.rpc.ErrorInfo: ``reason`` (UPPER_SNAKE_CASE, stable for
    programs to test) and ``metadata`` (e.g. the case that already uses an entry_id)."""
    info = error_details_pb2.ErrorInfo(
        reason=reason, domain=DOMAIN, metadata={k: str(v) for k, v in metadata.items() if v not in (None, "")}
    )
    status = status_pb2.Status(code=code, message=message)
    status.details.add().Pack(info)
    return rpc_status.to_status(status)


def failed_precondition(message: str, reason: str, **metadata: object) -> grpc.Status:
    return refusal(code_pb2.FAILED_PRECONDITION, message, reason, **metadata)


def not_found(message: str, reason: str, **metadata: object) -> grpc.Status:
    return refusal(code_pb2.NOT_FOUND, message, reason, **metadata)


def already_exists(message: str, reason: str, **metadata: object) -> grpc.Status:
    return refusal(code_pb2.ALREADY_EXISTS, message, reason, **metadata)

"""gRPC error replies, with google.rpc.BadRequest details naming each bad field."""

from __future__ import annotations

import grpc
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from stopay.api.validation import InvalidRequest, Violation


def invalid_argument(violations: list[Violation]) -> grpc.Status:
    detail = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
            for v in violations
        ]
    )
    status = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message=str(InvalidRequest(violations)))
    status.details.add().Pack(detail)
    return rpc_status.to_status(status)


def failed_precondition(message: str) -> grpc.Status:
    return rpc_status.to_status(status_pb2.Status(code=code_pb2.FAILED_PRECONDITION, message=message))

"""The status code the RPC metrics count a call under: the one its caller gets."""

from __future__ import annotations

import asyncio

import grpc

from stopay.api.metrics import status_code


def test_a_code_set_or_aborted_with_is_counted_as_it_is() -> None:
    assert status_code(grpc.StatusCode.NOT_FOUND, None) == "NOT_FOUND"
    assert status_code(grpc.StatusCode.INVALID_ARGUMENT.value[0], RuntimeError()) == "INVALID_ARGUMENT"
    assert status_code(grpc.StatusCode.OK.value[0], None) == "OK"


def test_without_a_code_the_end_of_the_handler_decides() -> None:
    assert status_code(None, None) == "OK"
    assert status_code(None, asyncio.CancelledError()) == "CANCELLED"
    assert status_code(None, RuntimeError("a servicer's bug")) == "UNKNOWN"

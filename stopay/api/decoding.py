"""A request that cannot be decoded (a string field that is not valid UTF-8, a truncated message) is
answered INVALID_ARGUMENT, not gRPC's default UNKNOWN: the caller's bytes are at fault, and sending
them again would fail again. The refusal's google.rpc.BadRequest names the field where the bytes
go wrong (stopay.api.wire), like any other refusal of a field."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import descriptor_pool

from stopay.api.errors import invalid_argument
from stopay.api.validation import Violation
from stopay.api.wire import WHOLE, broken_field

SERVICES = "/stopay."  # stopay's own services; health and the like are left as they are


async def _decoded(decode: Callable[[bytes], Any], method: str, raw: bytes, context: grpc.aio.ServicerContext) -> Any:
    try:
        return decode(raw)
    except Exception:  # noqa: BLE001 - whatever the decoder raises (DecodeError, RecursionError...), the bytes are at fault
        try:
            request = descriptor_pool.Default().FindMethodByName(method.strip("/").replace("/", ".")).input_type
        except KeyError:
            field, problem = WHOLE, "is not a valid encoding of the request"
        else:
            field, problem = broken_field(request, raw)
        await context.abort_with_status(invalid_argument([Violation(field, f"{problem}: the request cannot be decoded")]))


class DecodeRequests(grpc.aio.ServerInterceptor):
    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if (handler is None or handler.request_streaming or handler.request_deserializer is None
                or not details.method.startswith(SERVICES)):
            return handler
        decode, serialize = handler.request_deserializer, handler.response_serializer
        if handler.response_streaming:
            inner_stream = handler.unary_stream

            async def unary_stream(raw: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                async for item in inner_stream(await _decoded(decode, details.method, raw, context), context):
                    yield item

            return grpc.unary_stream_rpc_method_handler(unary_stream, response_serializer=serialize)
        inner = handler.unary_unary

        async def unary_unary(raw: bytes, context: grpc.aio.ServicerContext) -> Any:
            return await inner(await _decoded(decode, details.method, raw, context), context)

        return grpc.unary_unary_rpc_method_handler(unary_unary, response_serializer=serialize)

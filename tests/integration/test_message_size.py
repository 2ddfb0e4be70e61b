"""The largest request the server takes is a setting (serve --max-message-bytes, 4 MiB by default,
gRPC's own default made explicit); a larger request is refused with RESOURCE_EXHAUSTED, never
UNKNOWN or INTERNAL, and the server goes on serving."""

from __future__ import annotations

import grpc
import pytest

from stopay.cli import main as cli_main
from stopay.cli.serve import settings_from_args
from stopay.config import Settings
from stopay.domain.trail import Limits
from stopay.v1 import station_pb2
from tests.entries import simple_request

LIMIT = 64 * 1024


def _serve_args(*args: str) -> Settings:
    return settings_from_args(cli_main.build_parser().parse_args(["serve", "--insecure", *args]))


def test_the_flags_set_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = _serve_args()
    assert defaults.max_message_bytes == 4 * 1024 * 1024 == Settings().max_message_bytes
    assert (defaults.limits.max_orders, defaults.limits.max_fanout) == (2000, 200)
    given = _serve_args("--max-message-bytes", "1000", "--max-orders-per-case", "50", "--max-fanout", "7")
    assert (given.max_message_bytes, given.limits.max_orders, given.limits.max_fanout) == (1000, 50, 7)
    monkeypatch.setenv("STOPAY_MAX_FANOUT", "9")
    assert _serve_args().limits == Limits(max_fanout=9)
    with pytest.raises(SystemExit):
        _serve_args("--max-fanout", "0")


async def test_an_oversized_request_is_resource_exhausted(make_app, channel_to) -> None:
    app = await make_app(max_message_bytes=LIMIT)
    stub = channel_to(app)
    big = simple_request(("ICBC", "6222020200001111111", 10000))
    big.narrative = "x" * (LIMIT + 1)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.SubmitEntry(big)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

    # A request within the limit is served, by the same server.
    small = simple_request(("ICBC", "6222020200001111111", 10000))
    small.narrative = "x" * 1000
    reply = await stub.SubmitEntry(small)
    case = await stub.GetCase(station_pb2.GetCaseRequest(case_id=reply.case_id))
    assert case.case_id == reply.case_id

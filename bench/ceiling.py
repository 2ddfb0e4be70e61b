"""The stack's ceiling: a grpc.aio unary server whose handler does one durable INSERT through
asyncpg, and nothing else, on the event loop stopay would run on. It serves
``stopay.v1.StationService/SubmitEntry`` with stopay's own messages, so the same client drives it
and stopay alike.

Run as its own process: ``python -m bench.ceiling --dsn DSN --port-file FILE``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import uuid
from pathlib import Path

import asyncpg
import grpc

from bench.sql import query
from stopay.cli.serve import loop_factory
from stopay.v1 import station_pb2

# stopay's pool for the same dispatch batch size (bootstrap: max(10, batch_size // 4)).
POOL_SIZE = 16


async def _keep_session(conn: asyncpg.Connection) -> None:
    """No reset query when a connection goes back to the pool, as stopay's pool (store/database.py):
    the one INSERT leaves no session state, and the reset would be a second round trip per call."""


async def serve(dsn: str, port_file: Path) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=POOL_SIZE, reset=_keep_session)
    assert pool is not None
    await pool.execute(query("ceiling_table"))
    insert = query("ceiling_insert")

    async def submit_entry(
        request: station_pb2.SubmitEntryRequest, context: grpc.aio.ServicerContext
    ) -> station_pb2.SubmitEntryResponse:
        await pool.execute(insert, request.entry_id, request.SerializeToString())
        return station_pb2.SubmitEntryResponse(case_id=str(uuid.uuid4()))

    handler = grpc.method_handlers_generic_handler(
        "stopay.v1.StationService",
        {
            "SubmitEntry": grpc.unary_unary_rpc_method_handler(
                submit_entry,
                request_deserializer=station_pb2.SubmitEntryRequest.FromString,
                response_serializer=station_pb2.SubmitEntryResponse.SerializeToString,
            )
        },
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    port_file.write_text(str(port), encoding="utf-8")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(1.0)
    await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ceiling")
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--port-file", type=Path, required=True)
    args = parser.parse_args()
    # The event loop stopay's serve runs on here (STOPAY_EVENT_LOOP, uvloop when installed).
    with asyncio.Runner(loop_factory=loop_factory(os.environ.get("STOPAY_EVENT_LOOP", "auto"))) as runner:
        runner.run(serve(args.dsn, args.port_file))


if __name__ == "__main__":
    main()

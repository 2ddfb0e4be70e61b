"""The station's web server under abuse, with no stopay behind it: bad bodies get a 400 naming the
body, never a 500, and screens that read nothing neither hold events up nor the server's stop."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from datetime import timedelta, timezone

import aiohttp
import grpc
import pytest
from aiohttp import web

from stopay.station import app as pages
from stopay.station.desk import Desk
from tests.conftest import eventually


@pytest.fixture
async def station() -> AsyncIterator[tuple[Desk, web.AppRunner, str]]:
    channel = grpc.aio.insecure_channel("127.0.0.1:9")  # nothing there: these tests never reach stopay
    desk = Desk(channel, "CQ-YUZHONG-01", "1", timezone(timedelta(hours=8)))
    runner = web.AppRunner(pages.build(desk))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield desk, runner, f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await desk.close()
        await runner.cleanup()
        await channel.close()


@pytest.mark.parametrize("path", ["/api/draft", "/api/check"])
async def test_a_body_nested_too_deep_is_refused_not_a_server_error(station, path: str) -> None:  # type: ignore[no-untyped-def]
    _, _, base = station
    async with aiohttp.ClientSession() as http:
        deep = "[" * 100_000 + "]" * 100_000
        async with http.post(base + path, data=deep, headers={"Content-Type": "application/json"}) as reply:
            assert reply.status == 400, await reply.text()


async def test_true_is_no_transfer_number(station) -> None:  # type: ignore[no-untyped-def]
    desk, _, base = station
    desk.edit({"transfers": [{}, {}]})
    async with aiohttp.ClientSession() as http:
        body = {"index": True, "rev": desk.draft.transfers[1].rev, "check": "confirmed"}
        async with http.post(base + "/api/check", json=body) as reply:
            assert reply.status == 422
    assert desk.draft.transfers[1].check.value == "waiting"


async def test_screens_that_read_nothing_hold_up_neither_the_others_nor_the_stop(station, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    desk, runner, base = station
    port = runner.addresses[0][1]
    monkeypatch.setattr(pages, "WRITE_S", 0.5)
    stuck = []
    for _ in range(3):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        stuck.append(sock)
    try:

        async def subscribed() -> bool:
            return desk.hub.screens == 3

        await eventually(subscribed, timeout_s=5)
        for n in range(40):  # megabytes the stuck screens never take
            desk.hub.publish("draft", {"n": n, "pad": "x" * 500_000})
            await asyncio.sleep(0)

        async def let_go() -> bool:
            return desk.hub.screens == 0

        await eventually(let_go, timeout_s=10)  # each was let go once a write took too long
        monkeypatch.setattr(pages, "WRITE_S", 60.0)
        for _ in range(3):  # and again, stuck, as the server stops
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", port))
            sock.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            stuck.append(sock)
        await eventually(subscribed, timeout_s=5)
        for n in range(40):
            desk.hub.publish("draft", {"n": n, "pad": "x" * 500_000})
            await asyncio.sleep(0)
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await runner.cleanup()
        assert time.monotonic() - started < 5
    finally:
        for sock in stuck:
            sock.close()


async def test_a_page_reached_by_another_name_is_refused(station) -> None:  # type: ignore[no-untyped-def]
    # DNS rebinding: evil.example turned to 127.0.0.1 is, to the browser, its own origin.
    desk, _, base = station
    desk.edit({"report_no": "YZ-1", "victim.name": "某", "transfers": [{"payee.number": "6222020200001111111"}]})
    evil = {"Host": "evil.example:8080"}
    async with aiohttp.ClientSession() as http:
        async with http.get(base + "/api/state", headers=evil) as reply:
            assert reply.status == 403
            assert "6222020200001111111" not in await reply.text()
        async with http.post(base + "/api/new", json={}, headers={**evil, "Origin": "http://evil.example:8080"}) as r:
            assert r.status == 403
        async with http.get(base + "/api/state", headers={"Host": "localhost"}) as reply:
            assert reply.status == 200


async def test_nothing_in_the_page_s_data_can_end_its_script(station) -> None:  # type: ignore[no-untyped-def]
    desk, _, base = station
    desk.banks = ["X</script><script>alert(1)</script>"]
    async with aiohttp.ClientSession() as http, http.get(base + "/victim") as reply:
        page = await reply.text()
    assert "<script>alert(1)" not in page and page.count("</script>") == 3  # the page's own three

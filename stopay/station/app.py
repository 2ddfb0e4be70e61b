"""The station's two web pages and their JSON and server-sent-event endpoints (aiohttp). Requests
are translated to the desk and back; nothing else happens here.

- ``/officer``: the form; ``/victim``: the second screen (Chinese, ``?lang=en`` for English).
- ``GET /api/state``: the draft and the case, as both screens show them.
- ``POST /api/draft``: the officer's whole form; ``POST /api/check``: the victim confirms or flags a
  transfer; ``POST /api/submit``; ``POST /api/new``: a new entry.
- ``GET /events``: server-sent events ``draft`` and ``case``, the latest of each first.

The pages are served on a loopback address by default: the station PC's own screens."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from importlib.resources import files
from typing import Any

import jinja2
from aiohttp import web

from stopay.station.desk import Desk
from stopay.station.draft import Check, DraftError
from stopay.station.hub import CLOSED
from stopay.station.texts import BANK_NAMES, LANGUAGES, TEXTS
from stopay.v1 import station_pb2

DESK: web.AppKey[Desk] = web.AppKey("desk", Desk)
PAGES: web.AppKey[jinja2.Environment] = web.AppKey("pages", jinja2.Environment)
HEARTBEAT_S = 15.0
WRITE_S = 10.0  # a screen that takes no event for this long is let go (its browser reconnects)
STREAMS: web.AppKey[set[asyncio.Task[object]]] = web.AppKey("streams", set)


def build(desk: Desk) -> web.Application:
    app = web.Application(client_max_size=256 * 1024, middlewares=[same_origin])
    app[DESK] = desk
    app[STREAMS] = set()
    app.on_shutdown.append(_end_streams)
    app[PAGES] = jinja2.Environment(
        loader=jinja2.PackageLoader("stopay.station", "templates"), autoescape=True, enable_async=False
    )
    app.add_routes(
        [
            web.get("/", home),
            web.get("/officer", page("officer.html")),
            web.get("/victim", page("victim.html")),
            web.get("/api/state", state),
            web.post("/api/draft", edit),
            web.post("/api/check", check),
            web.post("/api/submit", submit),
            web.post("/api/new", start_new),
            web.get("/events", events),
            web.static("/static", str(files("stopay.station") / "static")),
        ]
    )
    return app


@web.middleware
async def same_origin(request: web.Request, handler: Any) -> web.StreamResponse:
    """Only the station's own pages may change the draft or submit: a POST must be JSON (which a
    page of another site cannot send without the browser asking first, and this server never
    allows) and, when the browser names its origin, come from this server's. Every request must
    name this server by an address or as localhost: a site whose name was turned to this PC's
    address (DNS rebinding) would otherwise be this server's own origin."""
    if not _local_host(request.host):
        return web.json_response({"violations": {"request": "must name the station by its address"}}, status=403)
    if request.method == "POST":
        origin = request.headers.get("Origin")
        if request.content_type != "application/json" or (origin and origin != f"{request.scheme}://{request.host}"):
            return web.json_response(
                {"violations": {"request": "must come from the station's own pages, as JSON"}}, status=403
            )
    response: web.StreamResponse = await handler(request)
    return response


def _local_host(host: str) -> bool:
    name = host[1:].split("]", 1)[0] if host.startswith("[") else host.split(":", 1)[0]
    if name.lower() == "localhost":
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


async def _end_streams(app: web.Application) -> None:
    app[DESK].hub.close()  # open event streams end, so the server stops at once
    for task in app[STREAMS]:  # even those of a screen that reads nothing, stuck in a write
        task.cancel()


async def home(request: web.Request) -> web.Response:
    raise web.HTTPFound("/officer")


def language(request: web.Request) -> str:
    lang = request.query.get("lang", "zh")
    return lang if lang in LANGUAGES else "zh"


def page(template: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        desk, lang = request.app[DESK], language(request)
        fraud_types = [name for name in station_pb2.FraudType.keys() if name != "FRAUD_TYPE_UNSPECIFIED"]
        html = (
            request.app[PAGES]
            .get_template(template)
            .render(
                t=TEXTS[lang],
                lang=lang,
                other_lang="en" if lang == "zh" else "zh",
                boot=json.dumps(
                    {
                        "texts": TEXTS[lang],
                        "lang": lang,
                        "banks": desk.banks,
                        "bank_names": {code: names[0 if lang == "zh" else 1] for code, names in BANK_NAMES.items()},
                        "fraud_types": fraud_types,
                    },
                    ensure_ascii=False,
                ).replace("<", "\\u003c"),  # inside <script>: no "</script>" from a name can end it
            )
        )
        return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})

    return handler


def _state(desk: Desk) -> dict[str, object]:
    return {"draft": desk.draft.shown(), "case": desk.case}


async def state(request: web.Request) -> web.Response:
    return web.json_response(_state(request.app[DESK]))


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, or nested too deep to read
        raise web.HTTPBadRequest(text=json.dumps({"field": "body", "description": "must be JSON"})) from exc
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text=json.dumps({"field": "body", "description": "must be a JSON object"}))
    return body


def refused(exc: DraftError) -> web.Response:
    return web.json_response({"violations": {exc.field: exc.description}}, status=422)


async def edit(request: web.Request) -> web.Response:
    try:
        request.app[DESK].edit(await _body(request))
    except DraftError as exc:
        return refused(exc)
    return web.json_response(_state(request.app[DESK]))


async def check(request: web.Request) -> web.Response:
    body = await _body(request)
    try:
        index, rev, verdict = body.get("index"), body.get("rev"), body.get("check")
        if type(index) is not int or type(rev) is not int:  # true is no index
            raise DraftError("index", "index and rev must be whole numbers")
        if verdict not in (Check.CONFIRMED.value, Check.FLAGGED.value):
            raise DraftError("check", "must be confirmed or flagged")
        request.app[DESK].check(index, rev, Check(verdict))
    except DraftError as exc:
        return refused(exc)
    return web.json_response(_state(request.app[DESK]))


async def submit(request: web.Request) -> web.Response:
    result = await request.app[DESK].submit()
    if result.case_id:
        return web.json_response({"case_id": result.case_id})
    return web.json_response({"violations": result.violations, "message": result.message}, status=422)


async def start_new(request: web.Request) -> web.Response:
    await request.app[DESK].start_new()
    return web.json_response(_state(request.app[DESK]))


async def events(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    hub = request.app[DESK].hub
    queue = hub.subscribe()
    task = asyncio.current_task()
    if task is not None:
        request.app[STREAMS].add(task)
    try:
        while True:
            try:
                kind, data = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
            except TimeoutError:
                kind, data = "", ": heartbeat"
            if (kind, data) == CLOSED:
                break
            text = f"event: {kind}\ndata: {data}\n\n" if kind else f"{data}\n\n"
            async with asyncio.timeout(WRITE_S):
                await response.write(text.encode())
    except (ConnectionError, TimeoutError):
        pass  # the screen went away, or reads nothing
    finally:
        hub.unsubscribe(queue)
        request.app[STREAMS].discard(task)
    return response

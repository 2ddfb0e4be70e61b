"""The station's desk: one entry at a time between the officer's screen and the victim's, its
submission to stopay, and the case followed live afterwards. The web pages (``app``) only call in."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timezone

import grpc
import structlog
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential

from stopay.station import request as entry_request
from stopay.station.draft import Check, Draft, DraftError
from stopay.station.hub import Hub
from stopay.station.view import case_view
from stopay.v1 import station_pb2, station_pb2_grpc

log = structlog.get_logger("stopay.station")

# Calls stopay may answer again: the same entry_id makes a repeated submit harmless.
_RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


@dataclass
class Submitted:
    case_id: str = ""
    violations: dict[str, str] = field(default_factory=dict)  # form field -> what is wrong
    message: str = ""  # a refusal that names no field


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, grpc.aio.AioRpcError) and exc.code() in _RETRYABLE


def violations_of(exc: grpc.aio.AioRpcError) -> dict[str, str]:
    """The field violations of a google.rpc.BadRequest in the error's details."""
    status = rpc_status.from_call(exc)
    found: dict[str, str] = {}
    for detail in status.details if status else ():
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            for v in bad.field_violations:
                found.setdefault(v.field, v.description)
    return found


class Desk:
    def __init__(
        self,
        channel: grpc.aio.Channel,
        station_id: str,
        officer_id: str,
        offset: timezone,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        submit_within_s: float = 30.0,
    ) -> None:
        self.stub = station_pb2_grpc.StationServiceStub(channel)
        self.station_id, self.officer_id, self.offset = station_id, officer_id, offset
        self.now = now
        self.submit_within_s = submit_within_s
        self.hub = Hub()
        self.draft = Draft.new()
        self.banks: list[str] = []
        self.case: dict[str, object] | None = None  # the submitted entry's case, as the victim sees it
        self._follow: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.hub.publish("draft", self.draft.shown())

    async def load_banks(self) -> list[str]:
        """The banks stopay serves, for the officer's choice of bank."""
        reply = await self.stub.ListBanks(station_pb2.ListBanksRequest(), timeout=10)
        self.banks = sorted(b.bank_code for b in reply.banks)
        return self.banks

    def _not_submitting(self) -> None:
        # What is being sent is what the victim confirmed: no change until stopay answered.
        if self._lock.locked():
            raise DraftError("draft", "is being submitted: wait for stopay's answer")

    def edit(self, form: dict[str, object]) -> None:
        self._not_submitting()
        self.draft.edit(form)
        self.hub.publish("draft", self.draft.shown())

    def check(self, index: int, rev: int, check: Check) -> None:
        self._not_submitting()
        self.draft.check(index, rev, check, self.now())
        self.hub.publish("draft", self.draft.shown())

    async def start_new(self) -> None:
        async with self._lock:  # after the submission under way, if any: its answer is its draft's
            await self._start_new()

    async def _start_new(self) -> None:
        await self._stop_following()
        self.draft = Draft.new()
        self.case = None
        self.hub.forget("case")
        self.hub.publish("draft", self.draft.shown())

    async def submit(self) -> Submitted:
        async with self._lock:  # one submission at a time; a second click waits and finds it done
            draft = self.draft
            if draft.case_id:
                return Submitted(case_id=draft.case_id)
            if not draft.confirmed:
                return Submitted(message="the victim has not confirmed every transfer")
            built = entry_request.build(draft, self.station_id, self.officer_id, self.offset, self.now())
            if built.violations:
                return Submitted(violations=built.violations)
            try:
                reply = await self._send(built.request)
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                    return Submitted(violations=violations_of(exc) or {"draft": exc.details() or ""})
                return Submitted(message=f"{exc.code().name}: {exc.details()}")
            draft.case_id = reply.case_id
            log.info("station.submitted", case_id=reply.case_id, duplicate=reply.duplicate)
            self.hub.publish("draft", self.draft.shown())
            self._follow = asyncio.create_task(self._follow_case(reply.case_id))
            return Submitted(case_id=reply.case_id)

    async def _send(self, request: station_pb2.SubmitEntryRequest) -> station_pb2.SubmitEntryResponse:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_retryable),
            wait=wait_exponential(multiplier=0.2, max=3),
            stop=stop_after_delay(self.submit_within_s),
            reraise=True,
        ):
            with attempt:
                reply: station_pb2.SubmitEntryResponse = await self.stub.SubmitEntry(request, timeout=10)
        return reply

    async def _follow_case(self, case_id: str) -> None:
        """Streams the case, as the victim may see it, to the screens; reconnects when the stream breaks."""
        delay = 0.2
        while True:
            try:
                stream = self.stub.WatchCase(
                    station_pb2.WatchCaseRequest(case_id=case_id, follow=True, victim_view=True)
                )
                async for update in stream:
                    delay = 0.2
                    self.case = case_view(update.case)
                    self.hub.publish("case", self.case)
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in _RETRYABLE:
                    log.warning("station.follow_failed", case_id=case_id, code=exc.code().name)
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _stop_following(self) -> None:
        if self._follow is not None:
            self._follow.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follow
            self._follow = None

    async def close(self) -> None:
        await self._stop_following()

"""StationService: submit an entry, read and watch its case, list cases."""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Iterable

import grpc
import structlog

from stopay.api import callers, convert, masking
from stopay.api.case_search import case_search, page_token
from stopay.api.errors import not_found
from stopay.api.validation import InvalidRequest, Violation, entry_from_request
from stopay.domain.accounts import mask_identity, mask_number
from stopay.domain.case import CaseView
from stopay.domain.clock import SYSTEM_CLOCK, Clock
from stopay.service.banks import Banks
from stopay.service.cases import Cases
from stopay.service.entries import Entries
from stopay.v1 import station_pb2, station_pb2_grpc

log = structlog.get_logger(__name__)

DEFAULT_PAGE = 50
MAX_PAGE = 500


class StationServicer(station_pb2_grpc.StationServiceServicer):
    def __init__(self, entries: Entries, cases: Cases, banks: Banks, clock: Clock = SYSTEM_CLOCK) -> None:
        self._entries = entries
        self._cases = cases
        self._banks = banks
        self._clock = clock

    async def SubmitEntry(
        self, request: station_pb2.SubmitEntryRequest, context: grpc.aio.ServicerContext
    ) -> station_pb2.SubmitEntryResponse:
        try:
            entry = entry_from_request(request, self._clock.now())
        except InvalidRequest as exc:
            log.info("entry.invalid", fields=[v.field for v in exc.violations])
            raise
        actor = callers.current().actor(f"officer:{entry.officer_id}@station:{entry.station_id}")
        submitted = await self._entries.submit(entry, actor)
        log.info(
            "entry.accepted",
            case_id=str(submitted.case_id),
            entry_id=entry.entry_id,
            duplicate=submitted.duplicate,
            transfers=len(entry.transfers),
            reported_minor=entry.reported_minor,
            linked_cases=sorted({str(link.case_id) for link in submitted.links}),
            victim_id=mask_identity(entry.victim.id_number) if entry.victim.id_number else "",
        )
        return station_pb2.SubmitEntryResponse(
            case_id=str(submitted.case_id),
            duplicate=submitted.duplicate,
            linked_cases=_visible([convert.linked_case_message(link) for link in submitted.links]),
        )

    async def GetCase(self, request: station_pb2.GetCaseRequest, context: grpc.aio.ServicerContext) -> station_pb2.Case:
        case = await self._case(await self._case_id(request.case_id, context), context)
        return _case_message(case)

    async def WatchCase(
        self, request: station_pb2.WatchCaseRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[station_pb2.CaseUpdate]:
        case_id = await self._case_id(request.case_id, context)
        last_sent: station_pb2.Case | None = None
        async with contextlib.aclosing(self._cases.watch(case_id)) as looks:
            async for seen in looks:
                case = seen.case
                if case is None:
                    await context.abort_with_status(_no_case(case_id))
                assert case is not None
                message = _case_message(case)
                if seen.events or message != last_sent:
                    update = station_pb2.CaseUpdate(
                        case=message, events=[convert.event_message(e, case.currency) for e in seen.events]
                    )
                    yield masking.victim_update(update) if request.victim_view else update
                    last_sent = message
                if case.settled and not request.follow:
                    return

    async def ListCases(
        self, request: station_pb2.ListCasesRequest, context: grpc.aio.ServicerContext
    ) -> station_pb2.ListCasesResponse:
        violations = []
        if not 0 <= request.page_size <= MAX_PAGE:
            violations.append(Violation("page_size", f"must be between 0 and {MAX_PAGE}"))
        try:
            search, after = case_search(request)
        except InvalidRequest as exc:
            violations = exc.violations + violations
        if violations:
            log.info("cases.search_invalid", fields=[v.field for v in violations])
            raise InvalidRequest(violations)
        size = request.page_size or DEFAULT_PAGE
        found = await self._cases.page(search, after, size + 1, callers.current().station_prefixes())
        token = ""
        if len(found) > size:
            found = found[:size]
            token = page_token(search, found[-1].created_at, found[-1].case_id)
        if search.filtered:
            # Which filters, never their values whole: an account number is masked, a name left out.
            log.info(
                "cases.searched",
                filters=[f.name for f in dataclasses.fields(search) if getattr(search, f.name) is not None],
                account=mask_number(search.account[1]) if search.account else "",
                found=len(found),
            )
        return station_pb2.ListCasesResponse(cases=[_case_message(c) for c in found], next_page_token=token)

    async def ListBanks(
        self, request: station_pb2.ListBanksRequest, context: grpc.aio.ServicerContext
    ) -> station_pb2.ListBanksResponse:
        return station_pb2.ListBanksResponse(
            banks=[station_pb2.ServedBank(bank_code=code) for code in await self._banks.served()]
        )

    async def _case_id(self, value: str, context: grpc.aio.ServicerContext) -> uuid.UUID:
        try:
            return uuid.UUID(value)
        except ValueError:
            raise InvalidRequest([Violation("case_id", "must be a case id (a UUID)")]) from None

    async def _case(self, case_id: uuid.UUID, context: grpc.aio.ServicerContext) -> CaseView:
        case = await self._cases.get(case_id)
        if case is None:
            await context.abort_with_status(_no_case(case_id))
            raise AssertionError("unreachable: abort_with_status raises")
        return case


def _no_case(case_id: uuid.UUID) -> grpc.Status:
    return not_found(f"no case {case_id}", "CASE_NOT_FOUND", case_id=case_id)


def _case_message(case: CaseView) -> station_pb2.Case:
    message = convert.case_message(case)
    _visible(message.linked_cases)
    return message


def _visible(links: Iterable[station_pb2.LinkedCase]) -> Iterable[station_pb2.LinkedCase]:
    """Another case that reported the same transfer is named only to a caller who may read it: for
    the others its case and station are left out (the link itself, and its amount, stay)."""
    caller = callers.current()
    for link in links:
        if not caller.may_see(link.station_id):
            link.case_id, link.station_id = "", ""
            link.ClearField("created_at")
    return links

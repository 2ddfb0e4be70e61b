"""AuditService: read-only views for auditors and supervisors, and the verification of the log."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import structlog

from stopay.api import convert
from stopay.api.audit_validation import export_request, repeat_accounts_request, report_request
from stopay.api.errors import not_found
from stopay.api.validation import InvalidRequest, Violation
from stopay.domain.accounts import ACCOUNT_NUMBER, BANK_CODE
from stopay.domain.case import CaseEvent
from stopay.domain.clock import SYSTEM_CLOCK, Clock
from stopay.security.checkpoints import BadKey, load_public_key
from stopay.service.audit import Audit, ExportedEvent, GroupFigures, Verified
from stopay.v1 import audit_pb2, audit_pb2_grpc, common_pb2, station_pb2

log = structlog.get_logger(__name__)


def _event(row: ExportedEvent, currency: str = "CNY") -> audit_pb2.AuditEvent:
    event = CaseEvent(row.seq, row.at, row.actor, row.kind, row.order_id, row.detail)
    return audit_pb2.AuditEvent(
        case_id=str(row.case_id),
        seq=row.seq,
        at=convert.timestamp(row.at),
        actor=row.actor,
        kind=convert.EVENT_KIND.number(row.kind),
        order_id=str(row.order_id) if row.order_id else "",
        detail_json=row.detail_text,
        chain_pos=row.chain_pos,
        summary=convert.event_message(event, currency).summary,
        hash=bytes(row.hash).hex() if row.hash else "",
        prev_hash=bytes(row.prev_hash).hex() if row.prev_hash else "",
    )


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    def __init__(self, audit: Audit, clock: Clock = SYSTEM_CLOCK) -> None:
        self._audit = audit
        self._clock = clock

    async def GetCaseTrail(
        self, request: station_pb2.GetCaseRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.CaseTrail:
        try:
            case_id = uuid.UUID(request.case_id)
        except ValueError:
            raise InvalidRequest([Violation("case_id", "must be a case id (a UUID)")]) from None
        trail = await self._audit.trail(case_id)
        if trail is None:
            await context.abort_with_status(not_found(f"no case {case_id}", "CASE_NOT_FOUND", case_id=case_id))
        assert trail is not None
        case = trail.case
        timings = [
            audit_pb2.HoldTiming(
                order_id=str(o.order_id),
                level=o.level,
                account=common_pb2.AccountRef(
                    bank_code=o.bank_code, number=o.account_number, holder_name=o.holder_name
                ),
                held_minor=o.held_minor,
                entry_to_hold_ms=ms,
            )
            for o, ms in case.hold_timings()
        ]
        return audit_pb2.CaseTrail(
            case=convert.case_message(case), timeline=[_event(r, case.currency) for r in trail.events], timings=timings
        )

    async def GetAccountHistory(
        self, request: audit_pb2.AccountHistoryRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.AccountHistory:
        violations = []
        if not BANK_CODE.fullmatch(request.account.bank_code):
            violations.append(
                Violation("account.bank_code", "must be 2 to 11 characters of A-Z and 0-9, starting with a letter")
            )
        if not ACCOUNT_NUMBER.fullmatch(request.account.number):
            violations.append(Violation("account.number", "must be 6 to 34 characters of 0-9 and A-Z"))
        if violations:
            raise InvalidRequest(violations)
        history = await self._audit.account(request.account.bank_code, request.account.number)
        return audit_pb2.AccountHistory(
            account=common_pb2.AccountRef(bank_code=request.account.bank_code, number=request.account.number),
            orders=[
                audit_pb2.AccountOrder(
                    case_id=str(r.case_id),
                    order_id=str(r.order_id),
                    kind=convert.ORDER_KIND.number(r.kind),
                    level=r.level,
                    status=convert.ORDER_STATUS.number(r.status),
                    requested_minor=r.requested_minor,
                    held_minor=r.held_minor,
                    released_minor=r.released_minor,
                    reason_code=r.reason_code,
                    created_at=convert.timestamp(r.created_at),
                    resolved_at=convert.timestamp(r.resolved_at),
                    station_id=r.station_id,
                    report_no=r.report_no,
                    victim_name=r.victim_name,
                )
                for r in history.orders
            ],
            links=[
                audit_pb2.AccountLink(
                    case_id=str(r.case_id),
                    station_id=r.station_id,
                    reported_at=convert.timestamp(r.created_at),
                    linked_case_id=str(r.linked_case_id),
                    txn_id=r.txn_id,
                    amount_minor=r.amount_minor,
                )
                for r in history.links
            ],
        )

    async def GetReport(self, request: audit_pb2.ReportRequest, context: grpc.aio.ServicerContext) -> audit_pb2.Report:
        period, station_id, bank_code, grouping = report_request(request, self._clock.now())
        t = await self._audit.totals(period.since, period.until, station_id, bank_code)
        statistics = await self._audit.statistics(
            period.since,
            period.until,
            station_id,
            bank_code,
            grouping.by,
            grouping.utc_offset_minutes,
            grouping.compare_previous_year,
        )
        groups = [
            audit_pb2.ReportGroup(
                key=_group_key(grouping.by, s.key),
                figures=_figures(s.figures),
                previous_year=_figures(s.previous_year) if s.previous_year else None,
            )
            for s in statistics
        ]
        return audit_pb2.Report(
            groups=sorted(groups, key=lambda g: g.key),
            cases=t.cases,
            reported_minor=t.reported_minor,
            held_minor=t.held_minor,
            returned_minor=t.returned_minor,
            exited_minor=t.exited_minor,
            orders=t.orders,
            holds=t.holds,
            back_with_victim_minor=t.back_with_victim_minor,
            p50_ms=round(t.p50_ms or 0),
            p90_ms=round(t.p90_ms or 0),
            p99_ms=round(t.p99_ms or 0),
        )

    async def VerifyLog(
        self, request: audit_pb2.VerifyLogRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.VerifyLogResponse:
        keys, violations = [], []
        for i, pem in enumerate(request.public_keys_pem):
            try:
                keys.append(load_public_key(pem))
            except BadKey as exc:
                violations.append(Violation(f"public_keys_pem[{i}]", str(exc)))
        if violations:
            raise InvalidRequest(violations)
        result = await self._audit.verify(keys)
        return verify_message(result)

    async def ExportEvents(
        self, request: audit_pb2.ExportEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[audit_pb2.AuditEvent]:
        period, case_id, kinds = export_request(request, self._clock.now())
        async for row in self._audit.events(period.since, period.until, case_id, kinds):
            yield _event(row)

    async def ListRepeatAccounts(
        self, request: audit_pb2.RepeatAccountsRequest, context: grpc.aio.ServicerContext
    ) -> audit_pb2.RepeatAccounts:
        min_cases = repeat_accounts_request(request)
        found: dict[tuple[str, str], audit_pb2.RepeatAccount] = {}
        for r in await self._audit.repeat_accounts(min_cases):
            account = found.get((r.bank_code, r.account_number))
            if account is None:
                account = found[(r.bank_code, r.account_number)] = audit_pb2.RepeatAccount(
                    account=common_pb2.AccountRef(
                        bank_code=r.bank_code, number=r.account_number, holder_name=r.holder_name
                    ),
                    case_count=r.case_count,
                )
            account.cases.append(
                audit_pb2.RepeatAccountCase(
                    case_id=str(r.case_id),
                    station_id=r.station_id,
                    traced_minor=r.traced_minor,
                    held_minor=r.held_minor,
                    returned_minor=r.returned_minor,
                    level=r.level,
                )
            )
        return audit_pb2.RepeatAccounts(accounts=list(found.values()))


def _group_key(by: str, key: str) -> str:
    """A fraud type's name for its stored number; other keys as they are."""
    if by != "fraud_type":
        return key
    try:
        return station_pb2.FraudType.Name(int(key))  # type: ignore[arg-type]
    except ValueError:
        return f"FRAUD_TYPE_{key}"  # a number this build does not know


def _figures(g: GroupFigures) -> audit_pb2.ReportFigures:
    return audit_pb2.ReportFigures(
        cases=g.cases,
        reported_minor=g.reported_minor,
        stopped_minor=g.stopped_minor,
        frozen_minor=g.frozen_minor,
        returned_minor=g.returned_minor,
        exited_minor=g.exited_minor,
        held_cases=g.held_cases,
        report_to_hold_p50_ms=g.p50_ms,
        report_to_hold_p95_ms=g.p95_ms,
        report_to_hold_p99_ms=g.p99_ms,
    )


def verify_message(result: Verified) -> audit_pb2.VerifyLogResponse:
    """The verification report as a message (also used offline by ``stopay audit verify --dsn``)."""
    chains = result.chains
    return audit_pb2.VerifyLogResponse(
        ok=result.ok,
        events=chains.events,
        cases=chains.cases,
        root_hash=chains.root_hash,
        breaks=[
            audit_pb2.ChainBreak(
                case_id=str(b.case_id), seq=b.seq, problem=convert.CHAIN_PROBLEM.number(b.kind), detail=b.detail
            )
            for b in chains.breaks
        ],
        checkpoints_checked=result.checkpoints_checked,
        checkpoint_problems=[
            audit_pb2.CheckpointProblem(
                checkpoint_id=p.checkpoint_id, case_id=str(p.case_id) if p.case_id else "", seq=p.seq, detail=p.problem
            )
            for p in result.problems
        ],
        latest_checkpoint_at=convert.timestamp(result.latest_at),
    )

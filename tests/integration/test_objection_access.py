"""Objections over real TLS: a bank files only for accounts at its own bank, as itself; an officer
takes and decides one as itself; a station may do neither."""

from __future__ import annotations

import uuid

import grpc
import pytest

from stopay.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc, holds_pb2, holds_pb2_grpc
from tests.conftest import eventually
from tests.fakebank import FakeBank
from tests.identities import Pki
from tests.integration.test_access import FAST, MULE, YUZHONG, entry, refused, station


def filing(case_id: str, bank_code: str = "") -> gateway_pb2.ObjectionFiling:
    return gateway_pb2.ObjectionFiling(
        bank_code=bank_code,
        case_id=case_id,
        account=common_pb2.AccountRef(bank_code=MULE[0], number=MULE[1]),
        holder_name="Li Na",
        grounds="rent paid by my tenant",
        documents=["lease"],
        request_id=uuid.uuid4().hex,
    )


async def test_a_bank_files_for_its_own_holders_and_officers_decide_as_themselves(make_app, pki: Pki, pool) -> None:
    app = await make_app(tls=pki.server, bank_adapters={"CBK": FakeBank({"CBK"})}, dispatch=FAST)
    case_id = (await station(pki, app, YUZHONG).SubmitEntry(entry())).case_id

    async def held() -> bool:
        return await pool.fetchval("SELECT count(*) FROM holds") == 1

    await eventually(held)
    other_bank = gateway_pb2_grpc.BankGatewayStub(pki.as_(app.port, "bank", "ICBC"))
    assert await refused(other_bank.FileObjection(filing(case_id, "CBK"))) == "IDENTITY_MISMATCH"
    # Filled in from its certificate, ICBC files for an account at CBK: the field is named.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await other_bank.FileObjection(filing(case_id))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "account.bank_code" in (err.value.details() or "")
    as_station = gateway_pb2_grpc.BankGatewayStub(pki.as_(app.port, "station", YUZHONG))
    assert await refused(as_station.FileObjection(filing(case_id))) == "ROLE_NOT_ALLOWED"
    assert await pool.fetchval("SELECT count(*) FROM objections") == 0

    own_bank = gateway_pb2_grpc.BankGatewayStub(pki.as_(app.port, "bank", "CBK"))
    receipt = await own_bank.FileObjection(filing(case_id))
    assert await pool.fetchval("SELECT taken_by FROM objections") == "CBK"
    assert await pool.fetchval("SELECT actor FROM case_events WHERE kind = 'objection.filed'") == "stopay://bank/CBK"

    officer = holds_pb2_grpc.HoldServiceStub(pki.as_(app.port, "officer", "O-7"))
    decide = holds_pb2.DecideObjectionRequest(
        objection_id=receipt.objection_id,
        decision=holds_pb2.OBJECTION_DECISION_KEEP,
        by=holds_pb2.StepBy(officer_id="O-8", reason="not shown", request_id=uuid.uuid4().hex),
    )
    assert await refused(officer.DecideObjection(decide)) == "IDENTITY_MISMATCH"
    station_holds = holds_pb2_grpc.HoldServiceStub(pki.as_(app.port, "station", YUZHONG))
    assert await refused(station_holds.DecideObjection(decide)) == "ROLE_NOT_ALLOWED"
    decide.by.officer_id = ""
    decided = await officer.DecideObjection(decide)
    assert decided.decided_by == "stopay://officer/O-7" and not decided.open
    center = holds_pb2_grpc.HoldServiceStub(pki.as_(app.port, "center", "cq"))
    (listed,) = (await center.ListObjections(holds_pb2.ListObjectionsRequest(case_id=case_id))).objections
    assert listed.decision == holds_pb2.OBJECTION_DECISION_KEEP

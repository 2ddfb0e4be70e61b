"""Hypothesis strategies for hostile requests to every stopay RPC, read from the services' descriptors.

A request is drawn three ways: made up field by field from hostile values (boundary integers, odd
times, oversized text, control characters, unicode oddities), a well-formed request (ids known to
the database, a real entry), or a well-formed request with one field spoiled. Raw bodies are bytes
that no request decodes from (invalid UTF-8, bad varints, wrong wire types, truncation, deep
nesting) or the bytes of another message type.
"""

from __future__ import annotations

import base64
import functools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from google.protobuf import descriptor, message, message_factory, timestamp_pb2
from hypothesis import strategies as st

from stopay.api.validation import confirm_request
from stopay.domain.confirmation import ConfirmationMethod
from stopay.domain.money import MAX_TRANSFER_MINOR, MAX_TRANSFERS_PER_ENTRY
from stopay.v1 import audit_pb2, common_pb2, gateway_pb2, holds_pb2, operator_pb2, station_pb2

PENDING_BANK = "PBK"  # the fuzz's bank that answers every freeze "pending": its orders wait for callbacks
FILES = (station_pb2, gateway_pb2, holds_pb2, operator_pb2, audit_pb2)
FD = descriptor.FieldDescriptor


@dataclass(frozen=True)
class Method:
    path: str
    request: type[message.Message]
    streaming: bool

    def __repr__(self) -> str:
        return self.path


METHODS = tuple(
    Method(f"/{service.full_name}/{m.name}", message_factory.GetMessageClass(m.input_type), m.server_streaming)
    for module in FILES
    for service in module.DESCRIPTOR.services_by_name.values()
    for m in service.methods
)


@dataclass
class Known:
    """What the database holds, refreshed while the fuzz runs, so some requests name real things."""

    case_ids: list[str] = field(default_factory=list)
    order_keys: list[tuple[str, str, str]] = field(default_factory=list)  # case_id, order_id, bank_code
    pending: list[tuple[str, str, str]] = field(default_factory=list)  # orders waiting for a bank's callback
    holds: list[tuple[str, str, str]] = field(default_factory=list)  # case_id, bank_code, account_number
    entries: list[station_pb2.SubmitEntryRequest] = field(default_factory=list)


INT64 = (
    0,
    1,
    -1,
    2**31 - 1,
    -(2**31),
    2**31,
    2**32,
    2**63 - 1,
    -(2**63),
    MAX_TRANSFER_MINOR,
    MAX_TRANSFER_MINOR + 1,
    100,
    2**53 + 1,
)
INT32 = (0, 1, -1, 2**31 - 1, -(2**31), 500, 501, 50)
ODD = (
    "\x00",
    "\x01",
    "\t",
    "\n",
    "\r",
    "\x1b",
    "\x7f",
    "\x85",
    "\x9f",
    "\u2028",
    "\u2029",
    "\u202a",
    "\u202e",
    "\u2066",
    "\u2069",
    "\ufeff",
    "\ufdd0",
    "\ufdef",
    "\ufffe",
    "\uffff",
    "\U0001fffe",
    "\U0010ffff",
    "\u200b",
    "\u200d",
    "\u0301",
    "\U0001f600",
    "\uff21",
    "\u0660",
    "\u00a0",
    "\u3000",
    " ",
    "%",
    "'",
    '"',
    "\\",
    "李",
    "Ａ",
    "ß",
    "İ",
    "ﬁ",
)
TEXT = st.text(alphabet=st.one_of(st.sampled_from(ODD), st.characters(codec="utf-8")), max_size=40)
LONG = st.sampled_from(
    (7, 8, 11, 12, 32, 33, 34, 35, 63, 64, 65, 100, 101, 128, 129, 140, 141, 500, 501, 1000, 1001, 4000, 4001, 70_000)
).flatmap(lambda n: st.sampled_from(("A", "9", "李", "\x00", "a b")).map(lambda c: (c * n)[:n]))
UUIDS = st.sampled_from(
    (
        "",
        str(uuid.UUID(int=0)),
        "not-a-uuid",
        "{" + str(uuid.UUID(int=1)) + "}",
        str(uuid.UUID(int=2)).upper(),
        str(uuid.UUID(int=3)).replace("-", ""),
        "urn:uuid:" + str(uuid.UUID(int=4)),
        str(uuid.UUID(int=5)) + "\x00",
        " " + str(uuid.UUID(int=6)),
    )
)
WORDS = st.sampled_from(
    (
        "ICBC",
        "ABC",
        "CCB",
        "CQRCB",
        "NOPE",
        "ACCR",
        "PECR",
        "PDCR",
        "RJCR",
        "credit",
        "debit",
        "ATM",
        "CASH",
        "CRYPTO",
        "UFO",
        "CNY",
        "USD",
        "cny",
        "6222020200001111111",
        "O-1001",
        "CQ-YUZHONG-01",
        "  ",
        "",
    )
)
HOSTILE_TEXT = st.one_of(TEXT, LONG, UUIDS, WORDS, st.tuples(WORDS, st.sampled_from(ODD)).map("".join))
# Page tokens as ListCases gives them out ("created_at|case_id" in URL-safe base64), for odd times.
PAGE_TOKENS = st.tuples(
    st.sampled_from(
        (
            "0001-01-01T00:00:00+23:59",
            "9999-12-31T23:59:59-23:59",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00+00:00",
            "0001-01-01T00:00:00+00:00",
            "not a time",
            "",
        )
    ),
    st.sampled_from((str(uuid.UUID(int=1)), "x", "")),
    st.sampled_from(("|", "||", "")),
).map(lambda t: base64.urlsafe_b64encode(f"{t[0]}{t[2]}{t[1]}".encode()).decode())
# Seconds at the edges of what a Timestamp may hold (years 1 to 9999), past them, and int64's own.
SECONDS = (
    0,
    -1,
    1,
    -62135596800,
    -62135596801,
    253402300799,
    253402300800,
    2**63 - 1,
    -(2**63),
    946684799,
    946684800,
    4102444800,
)
NANOS = (0, 1, 999_999_999, 1_000_000_000, -1, 2**31 - 1, -(2**31))


def now_seconds() -> int:
    return int(datetime.now(UTC).timestamp())


@functools.cache
def timestamps() -> st.SearchStrategy[timestamp_pb2.Timestamp]:
    recent = st.integers(-86400 * 400, 3600).map(lambda d: now_seconds() + d)
    seconds = st.one_of(st.sampled_from(SECONDS), recent, st.integers(-(2**63), 2**63 - 1))
    nanos = st.one_of(st.just(0), st.sampled_from(NANOS), st.integers(-(2**31), 2**31 - 1))
    return st.builds(timestamp_pb2.Timestamp, seconds=seconds, nanos=nanos)


@functools.cache
def _scalar(f: descriptor.FieldDescriptor) -> st.SearchStrategy:
    if f.name == "page_token":
        return st.one_of(HOSTILE_TEXT, PAGE_TOKENS)
    if f.type == FD.TYPE_STRING:
        return HOSTILE_TEXT
    if f.type == FD.TYPE_BOOL:
        return st.booleans()
    if f.type == FD.TYPE_ENUM:
        values = [v.number for v in f.enum_type.values]
        return st.one_of(st.sampled_from(values), st.sampled_from((-1, 7, 98, 100, 2**31 - 1, -(2**31))))
    if f.type in (FD.TYPE_INT32, FD.TYPE_SINT32, FD.TYPE_SFIXED32):
        return st.one_of(st.sampled_from(INT32), st.integers(-(2**31), 2**31 - 1))
    if f.type in (FD.TYPE_INT64, FD.TYPE_SINT64, FD.TYPE_SFIXED64):
        return st.one_of(st.sampled_from(INT64), st.integers(-(2**63), 2**63 - 1))
    if f.type == FD.TYPE_BYTES:
        return st.binary(max_size=64)
    raise AssertionError(f"no strategy for field {f.full_name} of type {f.type}")


@functools.cache
def made_up(cls: type[message.Message], depth: int = 0) -> st.SearchStrategy[message.Message]:
    """A message filled field by field with hostile values; some fields left out, sub-messages empty."""
    return timestamps() if cls is timestamp_pb2.Timestamp else _made_up(cls, depth)


@st.composite
def _made_up(draw: st.DrawFn, cls: type[message.Message], depth: int) -> message.Message:
    msg = cls()
    for f in cls.DESCRIPTOR.fields:
        if not draw(st.booleans()):
            continue
        repeated = f.is_repeated
        count = draw(st.sampled_from((0, 1, 2, 3))) if repeated else 1
        for _ in range(count):
            if f.type == FD.TYPE_MESSAGE:
                sub_cls = message_factory.GetMessageClass(f.message_type)
                sub = sub_cls() if depth > 2 else draw(made_up(sub_cls, depth + 1))
                (getattr(msg, f.name).add() if repeated else getattr(msg, f.name)).CopyFrom(sub)
            elif repeated:
                getattr(msg, f.name).append(draw(_scalar(f)))
            else:
                setattr(msg, f.name, draw(_scalar(f)))
    return msg


INDEX = st.integers(0, 2**16)


def _pick(draw: st.DrawFn, items: list, fallback: object) -> object:
    i = draw(INDEX)
    return items[i % len(items)] if items else fallback


def _by(draw: st.DrawFn) -> holds_pb2.StepBy:
    return holds_pb2.StepBy(
        officer_id=draw(st.sampled_from(("O-1001", "O-2002"))),
        reason="the bank asked",
        request_id=_fresh_or_drawn(draw),
    )


@st.composite
def well_formed(draw: st.DrawFn, method: Method, known: Known) -> message.Message:
    """A request that passes validation where the data allows: it reaches the database."""
    name = method.path.rsplit("/", 1)[1]
    case_id = _pick(draw, known.case_ids, str(uuid.UUID(int=7)))
    case_id_, bank, number = _pick(draw, known.holds, (case_id, "ICBC", "6222020200001111111"))
    hold = holds_pb2.HoldRef(case_id=case_id_, account=common_pb2.AccountRef(bank_code=bank, number=number))
    if name == "SubmitEntry":
        return draw(entries(known))
    if name in ("GetCase", "WatchCase", "GetCaseTrail"):
        return method.request(case_id=case_id, **({"follow": draw(st.booleans())} if name == "WatchCase" else {}))
    if name == "ListCases":
        return station_pb2.ListCasesRequest(
            station_id=draw(st.sampled_from(("", "CQ-YUZHONG-01", "FZ-01"))), page_size=draw(st.integers(0, 20))
        )
    if name == "ReportFreezeOutcome":
        c, o, b = _pick(
            draw,
            known.pending if draw(st.integers(0, 3)) < 3 else known.order_keys,
            (case_id, str(uuid.UUID(int=8)), "ICBC"),
        )
        outcome = gateway_pb2.FreezeOutcome(
            idempotency_key=f"{c}:{o}",
            bank_code=b,
            status=draw(
                st.sampled_from(
                    (
                        gateway_pb2.ANSWER_STATUS_ACCR,
                        gateway_pb2.ANSWER_STATUS_PECR,
                        gateway_pb2.ANSWER_STATUS_PDCR,
                        gateway_pb2.ANSWER_STATUS_RJCR,
                    )
                )
            ),
            held_minor=draw(st.sampled_from((0, 100, 35000000, 2**63 - 1))),
            balance_minor=draw(st.sampled_from((0, 100, -(2**63), 2**63 - 1))),
            reason_code=draw(st.sampled_from(("", "AC04"))),
        )
        for n in range(draw(st.integers(0, 3))):
            line = outcome.statement.lines.add(
                seq=n + 1,
                kind=draw(st.sampled_from((gateway_pb2.LINE_KIND_DEBIT, gateway_pb2.LINE_KIND_CREDIT))),
                txn_id=f"FZ-T{n}",
                amount_minor=draw(st.sampled_from((1, 100, 10**8, 2**62, 2**63 - 1))),
                exit=draw(
                    st.sampled_from(
                        (common_pb2.EXIT_KIND_UNSPECIFIED, common_pb2.EXIT_KIND_ATM, common_pb2.EXIT_KIND_CASH)
                    )
                ),
            )
            line.at.FromDatetime(datetime.now(UTC) - timedelta(minutes=draw(st.integers(-60, 10**6))))
            if draw(st.booleans()):
                line.counterparty.bank_code, line.counterparty.number = "PBK", f"6210{n:012d}"
        return outcome
    if name == "ListHolds":
        if draw(st.booleans()):
            return holds_pb2.ListHoldsRequest(case_id=case_id_)
        return holds_pb2.ListHoldsRequest(account=common_pb2.AccountRef(bank_code=bank, number=number))
    if name in ("RenewStop", "ReleaseHold"):
        return method.request(hold=hold, by=_by(draw))
    if name == "Formalize":
        doc = holds_pb2.LegalDocument(number="FZ-DOC-1", approver="Chief", amount_minor=100, scope="all")
        return holds_pb2.FormalizeRequest(hold=hold, by=_by(draw), document=doc, major=draw(st.booleans()))
    if name == "ReturnFunds":
        return holds_pb2.ReturnFundsRequest(account=common_pb2.AccountRef(bank_code=bank, number=number), by=_by(draw))
    if name == "RetryOrder":
        _, order_id, _ = _pick(draw, known.order_keys, (case_id, str(uuid.UUID(int=9)), "ICBC"))
        return operator_pb2.RetryOrderRequest(order_id=order_id, operator_id="ops1")
    if name == "GetAccountHistory":
        return audit_pb2.AccountHistoryRequest(account=common_pb2.AccountRef(bank_code=bank, number=number))
    if name in ("GetReport", "ExportEvents"):
        request = method.request()
        request.since.FromDatetime(datetime.now(UTC) - timedelta(days=draw(st.integers(0, 30))))
        if name == "ExportEvents":  # one case's events: the whole log grows with every case the fuzz adds
            request.case_id = case_id
        return request
    return method.request()


@st.composite
def entries(draw: st.DrawFn, known: Known) -> station_pb2.SubmitEntryRequest:
    """A well-formed entry, confirmed by its victim: a real one of the simulated network under a fresh
    entry_id, or a made-up one. Spoiling one may change its confirmation, or a transfer it covers."""
    base = _pick(draw, known.entries, None)
    request = station_pb2.SubmitEntryRequest()
    if base is not None and draw(st.integers(0, 2)):  # a transfer reported again: linked, not traced again
        request.CopyFrom(base)
    else:
        request.station_id, request.officer_id, request.report_no = "FZ-01", "O-1001", "R-FZ-1"
        request.victim.name = draw(st.sampled_from(("陈某", "Anna Müller", "O'Brien")))
        request.fraud_type = station_pb2.FRAUD_TYPE_ROMANCE
        unique = uuid.uuid4().hex[:12]  # a new transfer: traced, not linked to an earlier case's
        for n in range(draw(st.integers(1, 3))):
            t = request.transfers.add(
                amount_minor=draw(st.integers(1, 10**8)), currency="CNY", txn_id=f"FZ-{unique}-{n}"
            )
            t.payer.bank_code, t.payer.number = "CQCB", "6229100000000001"
            t.payee.bank_code = draw(st.sampled_from(("ICBC", "ABC", "CCB", "NOBANK", PENDING_BANK)))
            t.payee.number, t.payee.holder_name = f"62220{draw(st.integers(10**9, 10**10)):011d}", "某公司"
            t.transferred_at.FromDatetime(datetime.now(UTC) - timedelta(minutes=draw(st.integers(1, 10**5))))
        method = draw(st.sampled_from(tuple(ConfirmationMethod)))
        reference = "" if method is ConfirmationMethod.DUAL_SCREEN else draw(st.sampled_from(("F-0012", "录音-7")))
        confirmed_at = datetime.now(UTC) - timedelta(seconds=draw(st.integers(0, 3600)))
        confirm_request(request, method, reference=reference, confirmed_at=confirmed_at)
    request.entry_id = _fresh_or_drawn(draw)
    return request


def _fresh_or_drawn(draw: st.DrawFn) -> str:
    """Mostly a new id, so that the request gets through; sometimes one drawn, which may repeat."""
    return str(uuid.uuid4() if draw(st.integers(0, 9)) < 9 else uuid.UUID(int=draw(st.integers(0, 2**128 - 1))))


def _paths(msg: message.Message, prefix: tuple = ()) -> list[tuple]:
    """Every (path, field) of a set scalar or sub-message in ``msg``, to spoil one of them."""
    found = []
    for f, value in msg.ListFields():
        if f.is_repeated:
            for i, item in enumerate(value):
                found.append((prefix + ((f.name, i),), f))
                if f.type == FD.TYPE_MESSAGE:
                    found += _paths(item, prefix + ((f.name, i),))
        else:
            found.append((prefix + (f.name,), f))
            if f.type == FD.TYPE_MESSAGE:
                found += _paths(value, prefix + (f.name,))
    return found


@st.composite
def spoiled(draw: st.DrawFn, method: Method, known: Known) -> message.Message:
    """A well-formed request with one field replaced by a hostile value (or cleared)."""
    msg = draw(well_formed(method, known))
    paths = _paths(msg)
    if not paths:
        return msg
    path, f = draw(st.sampled_from(paths))
    parent = msg
    for step in path[:-1]:
        parent = getattr(parent, step[0])[step[1]] if isinstance(step, tuple) else getattr(parent, step)
    last = path[-1]
    if f.type == FD.TYPE_MESSAGE:
        sub = draw(made_up(message_factory.GetMessageClass(f.message_type), 1))
        target = getattr(parent, last[0])[last[1]] if isinstance(last, tuple) else getattr(parent, last)
        target.Clear()
        target.MergeFrom(sub)
    elif isinstance(last, tuple):
        getattr(parent, last[0])[last[1]] = draw(_scalar(f))
    else:
        setattr(parent, last, draw(_scalar(f)))
    return msg


def oversized_entry() -> st.SearchStrategy[station_pb2.SubmitEntryRequest]:
    """An entry with more transfers than allowed, or exactly as many."""

    def build(n: int) -> station_pb2.SubmitEntryRequest:
        request = station_pb2.SubmitEntryRequest(
            entry_id=str(uuid.uuid4()), station_id="FZ-01", officer_id="O-1", report_no="R-1", fraud_type=1
        )
        request.victim.name = "陈某"
        for i in range(n):
            t = request.transfers.add(amount_minor=1000, currency="CNY", txn_id=f"BIG-{i}")
            t.payer.bank_code, t.payer.number = "CQCB", "6229100000000001"
            t.payee.bank_code, t.payee.number, t.payee.holder_name = "NOBANK", f"{700000 + i}", "某"
            t.transferred_at.FromDatetime(datetime.now(UTC) - timedelta(hours=1))
        confirm_request(request, ConfirmationMethod.DUAL_SCREEN)
        return request

    return st.sampled_from((MAX_TRANSFERS_PER_ENTRY + 1, 1000)).map(build)


def requests(known: Known) -> st.SearchStrategy[tuple[Method, message.Message]]:
    def for_method(method: Method) -> st.SearchStrategy:
        # Well-formed first: Hypothesis leans to the first branch, and they reach the database.
        ways = [
            well_formed(method, known),
            spoiled(method, known),
            made_up(method.request),
            spoiled(method, known),
            well_formed(method, known),
        ]
        if method.request is station_pb2.SubmitEntryRequest:
            ways.append(oversized_entry())
        return st.tuples(st.just(method), st.one_of(ways))

    # VerifyLog reads the whole log, which grows with every case: about one request in 60 is enough.
    return st.one_of([for_method(m) for m in METHODS for _ in range(1 if m.path.endswith("/VerifyLog") else 4)])


def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, wire: int, payload: bytes = b"") -> bytes:
    return _varint(number << 3 | wire) + payload


def _string(number: int, raw: bytes) -> bytes:
    return _field(number, 2, _varint(len(raw)) + raw)


BAD_UTF8 = (
    b"\xff",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\xed\xbf\xbf",
    b"\xf4\x90\x80\x80",
    b"\xc0\x80",
    b"ok\x80",
    b"\xe2\x82",
)
CRAFTED = (
    b"\x08" + b"\xff" * 10 + b"\x02",  # a varint of 11 bytes
    b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
    b"\x08\x80",  # truncated varint
    b"\x0a\x05ab",  # length beyond the body
    b"\x0a" + _varint(2**63),  # absurd length
    b"\x0a" + _varint(2**32 + 3) + b"abc",
    b"\x00\x01",  # field number 0
    b"\x0e",
    b"\x0f\x00",  # wire types 6 and 7
    b"\x0c",  # end group without a start
    b"\x0b" * 200,  # start groups never ended
    b"\x0b" * 5000 + b"\x0c" * 5000,  # groups nested deeper than any parser goes
    b"\xf8\xff\xff\xff\x7f\x01",  # field number 2**29-1... with a varint
    b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01\x00",  # a tag too long
    b"\x0d\x01\x02",  # truncated fixed32
    b"\x09\x01\x02\x03",  # truncated fixed64
)


def nested(depth: int) -> bytes:
    """Sub-message field 5 nested ``depth`` times (fine for an unknown field, deep for the parser)."""
    body = b""
    for _ in range(depth):
        body = _string(5, body)
    return body


def raw_bodies(method: Method) -> st.SearchStrategy[bytes]:
    """Bodies that do not decode as ``method``'s request, or decode as another type's bytes."""
    fields = [f for f in method.request.DESCRIPTOR.fields]
    numbers = st.sampled_from([f.number for f in fields] or [1])
    bad_string = st.tuples(numbers, st.sampled_from(BAD_UTF8)).map(lambda t: _string(*t))
    wrong_wire = st.tuples(numbers, st.sampled_from((0, 1, 2, 5)), st.binary(max_size=9)).map(
        lambda t: _field(t[0], t[1], t[2])
    )
    other = st.one_of([made_up(m.request) for m in METHODS if m.request is not method.request]).map(
        lambda msg: msg.SerializeToString()
    )
    truncated = (
        made_up(method.request)
        .map(lambda msg: msg.SerializeToString())
        .flatmap(lambda raw: st.integers(0, max(len(raw) - 1, 0)).map(lambda n: raw[:n] + b"\x0a\x7f"))
    )
    return st.one_of(
        st.binary(min_size=1, max_size=200),
        st.sampled_from(CRAFTED),
        bad_string,
        wrong_wire,
        other,
        truncated,
        st.sampled_from((50, 99, 100, 101, 1000, 20000)).map(nested),
        st.tuples(bad_string, st.binary(max_size=20)).map(lambda t: t[1] + t[0]),
    )

"""Read and strictly validate a `stopay-bank-network/1` scenario into frozen dataclasses.

The format is specified in FORMAT.md (tests/data/scenarios). Every error is a :class:`ScenarioError`
whose message starts with the path of the offending field, e.g. ``ledger[3].amount: ...``.
Amounts are integer minor units; ``at`` and outage bounds are seconds relative to the epoch.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from os import PathLike
from pathlib import Path
from typing import Any

from bank_adapters.protocol import ExitKind

FORMAT = "stopay-bank-network/1"
RULES = frozenset({"fifo", "lifo", "pro_rata", "libr", "taint_first", "poison"})
MODES = frozenset({"sync", "callback"})

_NAME = re.compile(r"[a-z0-9-]+")
_CURRENCY = re.compile(r"[A-Z]{3}")
_BANK_CODE = re.compile(r"[A-Z][A-Z0-9]{1,10}")
_ACCOUNT_ID = re.compile(r"([A-Z][A-Z0-9]{1,10}):([0-9A-Z]{6,34})")


class ScenarioError(ValueError):
    """The scenario file breaks the format; the message names the offending field."""


@dataclass(frozen=True, slots=True)
class Bank:
    code: str
    name: str
    latency_ms: int = 0
    mode: str = "sync"
    outages: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True, slots=True)
class ScenarioAccount:
    id: str
    holder: str
    opening_balance: int

    @property
    def bank_code(self) -> str:
        return self.id.split(":", 1)[0]

    @property
    def number(self) -> str:
        return self.id.split(":", 1)[1]


@dataclass(frozen=True, slots=True)
class LedgerEvent:
    """One money movement; exactly one of ``to_account`` and ``exit`` is set."""

    seq: int
    at: float
    from_account: str | None
    to_account: str | None
    exit: ExitKind | None
    amount: int
    txn_id: str

    @property
    def is_history(self) -> bool:
        return self.at <= 0

    @property
    def order(self) -> tuple[float, int]:
        return (self.at, self.seq)


@dataclass(frozen=True, slots=True)
class CheckEntry:
    victim: str
    transfers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    rule: str
    max_depth: int
    min_amount: int
    entries: tuple[CheckEntry, ...]
    expect_held: Mapping[str, int]
    expect_exited: int | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    currency: str
    banks: tuple[Bank, ...]
    accounts: tuple[ScenarioAccount, ...]
    ledger: tuple[LedgerEvent, ...]  # in application order: (at, seq)
    checks: tuple[Check, ...] = ()
    description: str = ""
    epoch: datetime | None = None
    _banks: dict[str, Bank] = field(init=False, repr=False, compare=False)
    _accounts: dict[str, ScenarioAccount] = field(init=False, repr=False, compare=False)
    _events: dict[str, LedgerEvent] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_banks", {b.code: b for b in self.banks})
        object.__setattr__(self, "_accounts", {a.id: a for a in self.accounts})
        object.__setattr__(self, "_events", {e.txn_id: e for e in self.ledger})

    def bank(self, code: str) -> Bank:
        return self._banks[code]

    def account(self, account_id: str) -> ScenarioAccount:
        return self._accounts[account_id]

    def event(self, txn_id: str) -> LedgerEvent:
        return self._events[txn_id]


def load_scenario(path: str | PathLike[str]) -> Scenario:
    """Read a scenario file; duplicate JSON keys and NaN/Infinity are errors too."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{path}: not valid JSON: {exc}") from exc
    try:
        return parse_scenario(data)
    except ScenarioError as exc:  # which file, for a reader with several
        raise ScenarioError(f"{path}: {exc}") from exc


def parse_scenario(data: Any) -> Scenario:
    """Validate an already-decoded JSON document and build the :class:`Scenario`."""
    top = _obj(
        data,
        "",
        required={"format", "name", "currency", "banks", "accounts", "ledger"},
        optional={"description", "epoch", "checks"},
    )
    if top["format"] != FORMAT:
        raise ScenarioError(f"format: must be {FORMAT!r}")
    name = _match(top["name"], _NAME, "name")
    currency = _match(top["currency"], _CURRENCY, "currency")
    description = _str(top.get("description", ""), "description", allow_empty=True)
    epoch = _epoch(top["epoch"]) if "epoch" in top else None
    banks = _banks(top["banks"])
    accounts = _accounts(top["accounts"], {b.code for b in banks})
    ledger = _ledger(top["ledger"], {a.id: a for a in accounts})
    checks = _checks(top.get("checks", []), {a.id for a in accounts}, {e.txn_id for e in ledger})
    return Scenario(
        name=name,
        currency=currency,
        banks=banks,
        accounts=accounts,
        ledger=ledger,
        checks=checks,
        description=description,
        epoch=epoch,
    )


def _banks(raw: Any) -> tuple[Bank, ...]:
    banks: dict[str, Bank] = {}
    for i, item in enumerate(_list(raw, "banks", non_empty=True)):
        p = f"banks[{i}]"
        b = _obj(item, p, required={"code", "name"}, optional={"latency_ms", "mode", "outages"})
        code = _match(b["code"], _BANK_CODE, f"{p}.code")
        if code in banks:
            raise ScenarioError(f"{p}.code: duplicate bank code {code!r}")
        mode = b.get("mode", "sync")
        if mode not in MODES:
            raise ScenarioError(f"{p}.mode: must be one of {sorted(MODES)}")
        banks[code] = Bank(
            code=code,
            name=_str(b["name"], f"{p}.name"),
            latency_ms=_int(b.get("latency_ms", 0), f"{p}.latency_ms", minimum=0),
            mode=mode,
            outages=_outages(b.get("outages", []), f"{p}.outages"),
        )
    return tuple(banks.values())


def _outages(raw: Any, path: str) -> tuple[tuple[float, float], ...]:
    windows = []
    for i, item in enumerate(_list(raw, path)):
        if not isinstance(item, list) or len(item) != 2:
            raise ScenarioError(f"{path}[{i}]: must be a [from_s, to_s] pair")
        start, end = (_number(v, f"{path}[{i}][{j}]") for j, v in enumerate(item))
        if start >= end:
            raise ScenarioError(f"{path}[{i}]: from_s must be less than to_s")
        windows.append((start, end))
    return tuple(windows)


def _accounts(raw: Any, bank_codes: set[str]) -> tuple[ScenarioAccount, ...]:
    accounts: dict[str, ScenarioAccount] = {}
    for i, item in enumerate(_list(raw, "accounts", non_empty=True)):
        p = f"accounts[{i}]"
        a = _obj(item, p, required={"id", "holder", "opening_balance"})
        account_id = _account_id(a["id"], f"{p}.id", bank_codes)
        if account_id in accounts:
            raise ScenarioError(f"{p}.id: duplicate account {account_id!r}")
        accounts[account_id] = ScenarioAccount(
            id=account_id,
            holder=_str(a["holder"], f"{p}.holder"),
            opening_balance=_int(a["opening_balance"], f"{p}.opening_balance", minimum=0),
        )
    return tuple(accounts.values())


def _account_id(value: Any, path: str, bank_codes: set[str]) -> str:
    if not isinstance(value, str) or not (m := _ACCOUNT_ID.fullmatch(value)):
        raise ScenarioError(f"{path}: must be BANKCODE:NUMBER with NUMBER 6-34 of [0-9A-Z], got {value!r}")
    if m.group(1) not in bank_codes:
        raise ScenarioError(f"{path}: bank {m.group(1)!r} is not listed in banks")
    return value


def _ledger(raw: Any, accounts: Mapping[str, ScenarioAccount]) -> tuple[LedgerEvent, ...]:
    events: list[tuple[int, LedgerEvent]] = []
    seqs: set[int] = set()
    txn_ids: set[str] = set()
    for i, item in enumerate(_list(raw, "ledger")):
        event = _event(item, f"ledger[{i}]", accounts)
        if event.seq in seqs:
            raise ScenarioError(f"ledger[{i}].seq: duplicate seq {event.seq}")
        if event.txn_id in txn_ids:
            raise ScenarioError(f"ledger[{i}].txn_id: duplicate txn_id {event.txn_id!r}")
        seqs.add(event.seq)
        txn_ids.add(event.txn_id)
        events.append((i, event))
    events.sort(key=lambda pair: pair[1].order)
    for (_, before), (i, event) in pairwise(events):
        if event.seq < before.seq:
            raise ScenarioError(
                f"ledger[{i}].seq: {event.seq} at {event.at} does not increase "
                f"with at (seq {before.seq} comes earlier at {before.at})"
            )
    _check_no_overdraw(events, accounts)
    return tuple(event for _, event in events)


def _event(item: Any, p: str, accounts: Mapping[str, ScenarioAccount]) -> LedgerEvent:
    e = _obj(item, p, required={"seq", "at", "from", "amount", "txn_id"}, optional={"to", "exit"})
    e = {k: v for k, v in e.items() if not (k in ("to", "exit") and v is None)}  # null = absent
    if ("to" in e) == ("exit" in e):
        raise ScenarioError(f"{p}: exactly one of 'to' and 'exit' is required")
    source = None if e["from"] is None else _known(e["from"], f"{p}.from", accounts)
    target = _known(e["to"], f"{p}.to", accounts) if "to" in e else None
    exit_kind = None
    if "exit" in e:
        if e["exit"] not in ExitKind.__members__:
            raise ScenarioError(f"{p}.exit: must be one of {list(ExitKind.__members__)}")
        exit_kind = ExitKind(e["exit"])
        if source is None:
            raise ScenarioError(f"{p}.exit: money from outside the network cannot exit")
    if target is not None and target == source:
        raise ScenarioError(f"{p}.to: an account cannot pay itself")
    return LedgerEvent(
        seq=_int(e["seq"], f"{p}.seq"),
        at=_number(e["at"], f"{p}.at"),
        from_account=source,
        to_account=target,
        exit=exit_kind,
        amount=_int(e["amount"], f"{p}.amount", minimum=1),
        txn_id=_str(e["txn_id"], f"{p}.txn_id"),
    )


def _known(value: Any, path: str, accounts: Mapping[str, ScenarioAccount]) -> str:
    if not isinstance(value, str) or value not in accounts:
        raise ScenarioError(f"{path}: {value!r} is not a listed account")
    return value


def _check_no_overdraw(events: list[tuple[int, LedgerEvent]], accounts: Mapping[str, ScenarioAccount]) -> None:
    balance = {a.id: a.opening_balance for a in accounts.values()}
    for i, e in events:
        if not e.is_history:
            break
        if e.from_account is not None:
            if balance[e.from_account] < e.amount:
                raise ScenarioError(
                    f"ledger[{i}]: event seq {e.seq} (txn_id {e.txn_id}) overdraws "
                    f"{e.from_account}: balance {balance[e.from_account]}, amount {e.amount}"
                )
            balance[e.from_account] -= e.amount
        if e.to_account is not None:
            balance[e.to_account] += e.amount


def _checks(raw: Any, account_ids: set[str], txn_ids: set[str]) -> tuple[Check, ...]:
    checks = []
    for i, item in enumerate(_list(raw, "checks")):
        p = f"checks[{i}]"
        c = _obj(item, p, required={"name", "rule", "max_depth", "min_amount", "entries", "expect"})
        if c["rule"] not in RULES:
            raise ScenarioError(f"{p}.rule: must be one of {sorted(RULES)}")
        entries = []
        for j, entry in enumerate(_list(c["entries"], f"{p}.entries", non_empty=True)):
            q = f"{p}.entries[{j}]"
            en = _obj(entry, q, required={"victim", "transfers"})
            transfers = []
            for k, txn in enumerate(_list(en["transfers"], f"{q}.transfers", non_empty=True)):
                if txn not in txn_ids:
                    raise ScenarioError(f"{q}.transfers[{k}]: {txn!r} is not a ledger txn_id")
                transfers.append(txn)
            entries.append(CheckEntry(victim=_str(en["victim"], f"{q}.victim"), transfers=tuple(transfers)))
        expect = _obj(c["expect"], f"{p}.expect", required={"held"}, optional={"exited"})
        held = _obj(expect["held"], f"{p}.expect.held", open_keys=True)
        for account_id, amount in held.items():
            if account_id not in account_ids:
                raise ScenarioError(f"{p}.expect.held.{account_id}: not a listed account")
            _int(amount, f"{p}.expect.held.{account_id}", minimum=0)
        exited = expect.get("exited")
        checks.append(
            Check(
                name=_str(c["name"], f"{p}.name"),
                rule=c["rule"],
                max_depth=_int(c["max_depth"], f"{p}.max_depth", minimum=1),
                min_amount=_int(c["min_amount"], f"{p}.min_amount", minimum=0),
                entries=tuple(entries),
                expect_held=dict(held),
                expect_exited=None if exited is None else _int(exited, f"{p}.expect.exited", minimum=0),
            )
        )
    return tuple(checks)


# ---- small typed readers -------------------------------------------------------------------------


def _obj(
    value: Any,
    path: str,
    required: AbstractSet[str] = frozenset(),
    optional: AbstractSet[str] = frozenset(),
    open_keys: bool = False,
) -> dict[str, Any]:
    """A JSON object with the listed keys; other keys are errors unless they start with ``x-``."""
    where = path or "scenario"
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: must be an object")
    prefix = f"{path}." if path else ""
    missing = sorted(required - value.keys())
    if missing:
        raise ScenarioError(f"{prefix}{missing[0]}: is required")
    if not open_keys:
        for key in value:
            if key not in required and key not in optional and not key.startswith("x-"):
                raise ScenarioError(f"{prefix}{key}: unknown key")
    return {k: v for k, v in value.items() if open_keys or not k.startswith("x-")}


def _list(value: Any, path: str, non_empty: bool = False) -> list[Any]:
    if not isinstance(value, list):
        raise ScenarioError(f"{path}: must be an array")
    if non_empty and not value:
        raise ScenarioError(f"{path}: must not be empty")
    return value


def _int(value: Any, path: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScenarioError(f"{path}: must be an integer, got {value!r}")
    if minimum == 1 and value < 1:
        raise ScenarioError(f"{path}: must be a positive integer, got {value}")
    elif minimum is not None and value < minimum:
        raise ScenarioError(f"{path}: must be at least {minimum}, got {value}")
    return value


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ScenarioError(f"{path}: must be a finite number, got {value!r}")
    return value


def _str(value: Any, path: str, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise ScenarioError(f"{path}: must be a non-empty string")
    return value


def _match(value: Any, pattern: re.Pattern[str], path: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ScenarioError(f"{path}: must match {pattern.pattern}, got {value!r}")
    return value


def _epoch(value: Any) -> datetime:
    try:
        epoch = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        epoch = None
    if epoch is None or epoch.tzinfo is None:
        raise ScenarioError(f"epoch: must be an ISO 8601 instant with offset, got {value!r}")
    return epoch


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ScenarioError(f"duplicate key {key!r} in a JSON object")
        obj[key] = value
    return obj


def _no_constant(name: str) -> Any:
    raise ScenarioError(f"{name} is not a valid JSON number")

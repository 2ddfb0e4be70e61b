"""Seeded random mule networks in the ``stopay-bank-network/1`` format, for tests and benchmarks.

:func:`generate` builds a scenario dict (valid: it passes
:func:`~bank_adapters.simulated.scenario.parse_scenario`) and :func:`write` stores it as JSON. The
same seed and parameters always give the same document (everything random comes from one
``random.Random(seed)``); different seeds give different networks.

Shape of a network:

* each victim's account pays a level-1 mule account in one or more payments (a later victim may pay
  a level-1 account an earlier victim also paid);
* a mule account that receives money forwards part of what it holds, at least a minute later, to
  1..``fan_out`` accounts at the next level: mostly new accounts, sometimes an exit (cash, ATM,
  crypto, ...), sometimes back to an account earlier on the same path (a cycle) or to an account
  another path already reached (a merge), and with ``profit_ratio`` sometimes back to the account
  of a victim who paid the path's level-1 account (a fake "profit withdrawal"); some accounts keep
  what they got, and accounts at the path's depth (drawn from ``depth`` per victim) only cash out
  or keep;
* with ``own_money``, mule accounts have non-zero opening balances and own deposits (``from: null``)
  both before and after the victim's money arrives;
* amounts are integer fen: most transfers are well above 10,000 fen, a few (``small_ratio``) are
  below it; the generator tracks balances in time order, so history never overdraws;
* times are integer seconds; all history is at ``at <= 0``. With ``delays`` the last few events,
  at least one of them a mule's onward transfer, are scheduled ``at > 0`` (moves still to come).

The document has one check, ``"generated"``, whose ``entries`` list each victim with its payments.
Its ``expect.held`` is left empty: the generator does not compute the answer; tests replay the
ledger independently (per FORMAT.md, "What a known answer means") to get the expected holds.
The parameters are recorded under the ignored key ``x-generator``.

:func:`tree` builds a regular network instead, for benchmarks that need an exact number of orders:
each victim pays one level-1 account, and every account down to a given level keeps a fixed sum and
forwards the rest in equal parts to ``fan_out`` new accounts one level deeper. Its check's
``expect.held`` is known (the fixed sum at every account), and so is the number of freeze orders a
case opens: one per account of the tree.
"""

from __future__ import annotations

import heapq
import json
import random
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from bank_adapters.protocol import ExitKind
from bank_adapters.simulated.scenario import FORMAT, RULES, parse_scenario

__all__ = ["generate", "tree", "write"]

_BANKS = (
    ("ICBC", "Industrial and Commercial Bank of China", "622202"),
    ("ABC", "Agricultural Bank of China", "622848"),
    ("BOC", "Bank of China", "621661"),
    ("CCB", "China Construction Bank", "621700"),
    ("BOCOM", "Bank of Communications", "622262"),
    ("CMB", "China Merchants Bank", "621485"),
    ("CITIC", "China CITIC Bank", "621771"),
    ("SPDB", "Shanghai Pudong Development Bank", "622521"),
    ("CIB", "Industrial Bank", "622909"),
    ("CMBC", "China Minsheng Bank", "622622"),
    ("PSBC", "Postal Savings Bank of China", "621799"),
    ("CQRCB", "Chongqing Rural Commercial Bank", "621483"),
)
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
_EXITS = tuple(kind.value for kind in ExitKind)
_MAX_FORWARDS = 2  # forwarding steps per account: a cycle may make an account forward once more


@dataclass
class _Account:
    id: str
    holder: str
    opening: int
    level: int  # 0 for a victim's account
    limit: int  # deepest level of the path that created it
    balance: int = 0
    reserved: int = 0  # planned onward transfers not yet made
    forwards: int = 0
    pending: bool = False  # a forwarding step is scheduled
    senders: list[str] = field(default_factory=list)  # mule accounts that paid it, in order

    @property
    def free(self) -> int:
        return self.balance - self.reserved


@dataclass
class _Event:
    at: int
    order: int
    kind: str  # "victim" | "deposit" | "transfer" | "exit"
    source: str | None
    amount: int
    target: str | None = None
    exit: str | None = None


def generate(
    seed: int,
    *,
    banks: int = 4,
    victims: int = 1,
    fan_out: tuple[int, int] = (1, 3),
    depth: tuple[int, int] = (1, 4),
    exit_ratio: float = 0.3,
    own_money: bool = True,
    delays: bool = False,
    rule: str = "libr",
    cycle_ratio: float = 0.1,
    merge_ratio: float = 0.2,
    keep_ratio: float = 0.12,
    small_ratio: float = 0.15,
    max_accounts: int = 40,
    max_events: int = 120,
    latency_ms: tuple[int, int] = (0, 0),
    epoch: str | None = None,
    name: str | None = None,
    profit_ratio: float = 0.0,
) -> dict[str, Any]:
    """A random mule network as a ``stopay-bank-network/1`` scenario dict, the same for one
    ``seed`` and parameters.

    ``banks``: how many banks (the first of a fixed list of Chinese banks, then ``BK13``...).
    ``victims``: victims, each paying a level-1 account 1-3 times. ``fan_out``: min and max number
    of onward transfers per forwarding step. ``depth``: min and max number of mule levels (drawn
    per victim). ``exit_ratio``, ``cycle_ratio``, ``merge_ratio``: chance that an onward transfer
    goes to an exit, back up its own path, or to an account another path reached.
    ``profit_ratio``: chance that an onward transfer goes back to a victim who paid the path's
    level-1 account (0 by default, which keeps the networks of earlier versions). ``keep_ratio``:
    chance a mule keeps what it got instead of forwarding. ``small_ratio``: chance an onward
    transfer is below 10,000 fen. ``own_money``: non-zero opening balances and own deposits for
    mules. ``delays``: a few last events happen after the epoch (``at > 0``). ``rule``: the
    check's attribution rule. ``max_accounts`` / ``max_events``: size caps (victims' accounts
    and payments included). ``latency_ms``: range of the banks' latency. ``epoch``: ISO 8601
    instant written as the scenario's epoch (absent: the moment of loading). ``name``: the
    scenario name (default ``generated-<seed>``, ``m`` for a minus sign).

    The check's ``expect.held`` is empty: compute the expected holds with an independent replay.
    """
    _validate(
        banks,
        victims,
        fan_out,
        depth,
        rule,
        max_accounts,
        max_events,
        latency_ms,
        exit_ratio,
        cycle_ratio,
        merge_ratio,
        keep_ratio,
        small_ratio,
        profit_ratio,
    )
    params = {
        "banks": banks,
        "victims": victims,
        "fan_out": list(fan_out),
        "depth": list(depth),
        "exit_ratio": exit_ratio,
        "own_money": own_money,
        "delays": delays,
        "rule": rule,
        "cycle_ratio": cycle_ratio,
        "merge_ratio": merge_ratio,
        "keep_ratio": keep_ratio,
        "small_ratio": small_ratio,
        "max_accounts": max_accounts,
        "max_events": max_events,
        "latency_ms": list(latency_ms),
    }
    if profit_ratio:
        params["profit_ratio"] = profit_ratio
    builder = _Builder(random.Random(seed), params)
    builder.run()
    tag = str(seed).replace("-", "m")
    doc: dict[str, Any] = {
        "format": FORMAT,
        "name": name or f"generated-{tag}",
        "description": builder.describe(seed),
        "currency": "CNY",
    }
    if epoch is not None:
        doc["epoch"] = epoch
    doc.update(
        {
            "banks": builder.banks_json(),
            "accounts": [
                {"id": a.id, "holder": a.holder, "opening_balance": a.opening} for a in builder.accounts.values()
            ],
            "ledger": builder.ledger_json(f"G{tag}"),
        }
    )
    doc["checks"] = [
        {
            "name": "generated",
            "rule": rule,
            "max_depth": 5,
            "min_amount": 10000,
            "entries": builder.entries_json(),
            "expect": {"held": {}},
        }
    ]
    doc["x-generator"] = {"seed": seed, **params}
    parse_scenario(doc)  # never hand out an invalid network
    return doc


def write(path: str | PathLike[str], seed: int, **kw: Any) -> Path:
    """Generate the network for ``seed`` (keywords as for :func:`generate`) and write it as UTF-8
    JSON to ``path``; returns the path."""
    target = Path(path)
    target.write_text(json.dumps(generate(seed, **kw), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return target


def tree(
    *,
    fan_out: int = 4,
    levels: int = 6,
    victims: int = 1,
    kept: int = 20_000,
    banks: int = 4,
    rule: str = "libr",
    seed: int = 0,
    latency_ms: int = 0,
    name: str | None = None,
) -> dict[str, Any]:
    """A regular mule tree as a ``stopay-bank-network/1`` scenario dict, the same for the same
    arguments.

    Each of ``victims`` victims pays, in one payment, a level-1 account of its own. Every account
    at a level above ``levels`` keeps ``kept`` fen and forwards the rest to ``fan_out`` new
    accounts one level deeper, each getting what its own subtree keeps; accounts at ``levels``
    keep what they get. Mules have no money of their own, and all of it is history (``at <= 0``).
    So a case traced with ``max_depth = levels`` and ``min_amount <= kept`` (the check's policy)
    opens one freeze order per account of its victim's tree, ``1 + fan_out + ... +
    fan_out ** (levels - 1)`` of them, and holds ``kept`` at each (``expect.held``).
    ``fan_out=4, levels=6`` gives 1 + 4 + 16 + 64 + 256 + 1,024 = 1,365 orders;
    ``levels=1, victims=n`` gives n cases of one order each. ``seed`` draws the banks, the account
    numbers and the names. ``latency_ms``: every bank's latency.
    """
    if fan_out < 1 or levels < 1 or victims < 1 or kept < 1 or banks < 1 or latency_ms < 0:
        raise ValueError("fan_out, levels, victims, kept and banks must be at least 1, latency_ms at least 0")
    if rule not in RULES:
        raise ValueError(f"rule must be one of {sorted(RULES)}")
    rng = random.Random(seed)
    bank_list = [
        _BANKS[i] if i < len(_BANKS) else (f"BK{i + 1}", f"Bank {i + 1}", f"62{i + 1:04d}") for i in range(banks)
    ]
    numbers: dict[str, None] = {}
    accounts: list[dict[str, Any]] = []

    def new_account(opening: int) -> str:
        code, _, prefix = rng.choice(bank_list)
        account_id = f"{code}:{_new_number(rng, prefix, numbers)}"
        accounts.append(
            {"id": account_id, "holder": f"{rng.choice(_SURNAMES)}某{len(accounts) + 1}", "opening_balance": opening}
        )
        return account_id

    # What an account at each level receives: what it keeps and what its subtree keeps.
    receives = {levels: kept}
    for level in range(levels - 1, 0, -1):
        receives[level] = kept + fan_out * receives[level + 1]
    tag = str(seed).replace("-", "m")
    ledger: list[dict[str, Any]] = []

    def move(at: int, source: str, target: str, amount: int) -> str:
        txn_id = f"T{tag}-{len(ledger) + 1:07d}"
        ledger.append(
            {"seq": len(ledger) + 1, "at": at, "from": source, "to": target, "amount": amount, "txn_id": txn_id}
        )
        return txn_id

    # Level by level, a minute apart, so that seq increases with at; the deepest moves a minute
    # before the epoch.
    start = -60 * levels
    entries = []
    reached: list[str] = []  # the accounts of the current level
    for _ in range(victims):
        victim = new_account(receives[1])
        level1 = new_account(0)
        entries.append({"victim": accounts[-2]["holder"], "transfers": [move(start, victim, level1, receives[1])]})
        reached.append(level1)
    held = {account: kept for account in reached}
    for level in range(1, levels):
        deeper = []
        for source in reached:
            for _ in range(fan_out):
                target = new_account(0)
                move(start + 60 * level, source, target, receives[level + 1])
                deeper.append(target)
        held.update({account: kept for account in deeper})
        reached = deeper
    doc: dict[str, Any] = {
        "format": FORMAT,
        "name": name or f"tree-{fan_out}x{levels}-{victims}-{tag}",
        "description": (
            f"Generated mule tree (seed {seed}): {victims} victim(s), each paying a level-1 account; "
            f"fan-out {fan_out} down to level {levels}; every mule account keeps {kept} fen."
        ),
        "currency": "CNY",
        "banks": [
            {"code": code, "name": bank_name, **({"latency_ms": latency_ms} if latency_ms else {})}
            for code, bank_name, _ in bank_list
        ],
        "accounts": accounts,
        "ledger": ledger,
        "checks": [
            {
                "name": "tree",
                "rule": rule,
                "max_depth": levels,
                "min_amount": min(10_000, kept),
                "entries": entries,
                "expect": {"held": held, "exited": 0},
            }
        ],
        "x-generator": {"tree": {"seed": seed, "fan_out": fan_out, "levels": levels, "victims": victims, "kept": kept}},
    }
    parse_scenario(doc)  # never hand out an invalid network
    return doc


def _new_number(rng: random.Random, prefix: str, taken: dict[str, None]) -> str:
    """An account number of the bank's ``prefix`` and 13 random digits, not in ``taken`` (added)."""
    while True:
        number = prefix + "".join(rng.choice("0123456789") for _ in range(13))
        if number not in taken:
            taken[number] = None
            return number


def _validate(
    banks: int,
    victims: int,
    fan_out: tuple[int, int],
    depth: tuple[int, int],
    rule: str,
    max_accounts: int,
    max_events: int,
    latency_ms: tuple[int, int],
    *ratios: float,
) -> None:
    if banks < 1:
        raise ValueError("banks must be at least 1")
    if victims < 1:
        raise ValueError("victims must be at least 1")
    for what, (low, high), least in (("fan_out", fan_out, 1), ("depth", depth, 1), ("latency_ms", latency_ms, 0)):
        if not least <= low <= high:
            raise ValueError(f"{what} must be a (min, max) pair with {least} <= min <= max")
    if rule not in RULES:
        raise ValueError(f"rule must be one of {sorted(RULES)}")
    if any(not 0 <= r <= 1 for r in ratios):
        raise ValueError("ratios must be between 0 and 1")
    if max_accounts < 2 * victims:
        raise ValueError("max_accounts must leave room for a level-1 account per victim")
    if max_events < 6 * victims:
        raise ValueError("max_events must leave room for every victim's payments")


class _Builder:
    """Plays the network forward in time order, so every balance is known when money moves."""

    def __init__(self, rng: random.Random, params: dict[str, Any]) -> None:
        self.rng = rng
        self.p = params
        self.bank_list = [
            _BANKS[i] if i < len(_BANKS) else (f"BK{i + 1}", f"Bank {i + 1}", f"62{i + 1:04d}")
            for i in range(params["banks"])
        ]
        self.accounts: dict[str, _Account] = {}
        self.numbers: dict[str, None] = {}
        self.events: list[_Event] = []
        self.queue: list[tuple[int, int, tuple[Any, ...]]] = []
        self.counter = 0
        self.planned = 0  # events made or scheduled, against cap
        # with delays, one event may be added at the end (see _ensure_a_late_forward)
        self.cap = params["max_events"] - (1 if params["delays"] else 0)
        self.txn_ids: dict[int, str] = {}  # event order -> txn_id, once the ledger is written
        self.victims_left = params["victims"]  # victims still to come, each with room kept
        self.victim_txns: dict[str, list[int]] = {}  # victim account id -> event orders
        self.payers: dict[str, list[str]] = {}  # level-1 account id -> victims' accounts that paid it

    # ---- running --------------------------------------------------------------------------------

    def run(self) -> None:
        rng = self.rng
        start = 0
        for _ in range(self.p["victims"]):
            start += rng.randint(300, 3600)
            self._schedule(start, ("victim",), counts=False)
            start += 3 * 600  # the victim's payments are over before the next victim is scammed
        while self.queue:
            at, _, action = heapq.heappop(self.queue)
            getattr(self, f"_do_{action[0]}")(at, *action[1:])
        if self.p["delays"]:
            self._ensure_a_late_forward()

    def _do_victim(self, at: int) -> None:
        """A victim is scammed at ``at``: pays a level-1 account (new, or one an earlier victim
        paid) in 1-3 payments."""
        rng = self.rng
        self.victims_left -= 1
        payments = [rng.randint(5_000, 300_000) * 100 for _ in range(rng.randint(1, 3))]
        victim = self._new_account(level=0, limit=0, opening=sum(payments) + rng.randint(0, 100_000) * 100)
        level1 = [a.id for a in self.accounts.values() if a.level == 1]
        if level1 and rng.random() < 0.3:
            payee = rng.choice(level1)
        else:
            payee = self._new_account(level=1, limit=rng.randint(*self.p["depth"]), first_credit=at).id
        self.victim_txns[victim.id] = []
        self.payers.setdefault(payee, []).append(victim.id)
        for amount in payments:
            victim.reserved += amount
            self._schedule(at, ("transfer", victim.id, payee, None, amount, "victim", ()))
            at += rng.randint(30, 600)

    def _room(self) -> int:
        """Ledger events the mules may still add: the cap less what is made or scheduled, less
        what victims still to come need (3 payments and 2 deposits of a new level-1 account)."""
        return self.cap - self.planned - 5 * self.victims_left

    def _accounts_room(self) -> int:
        return self.p["max_accounts"] - len(self.accounts) - 2 * self.victims_left

    def _schedule(self, at: int, action: tuple[Any, ...], *, counts: bool = True) -> None:
        """Queue ``action`` at ``at``; ``counts``: it makes a ledger event (against the cap)."""
        if counts:
            self.planned += 1
        self.counter += 1
        heapq.heappush(self.queue, (at, self.counter, action))

    def _record(self, event: _Event) -> _Event:
        self.events.append(event)
        return event

    def _do_transfer(
        self,
        at: int,
        source: str,
        target: str | None,
        exit_kind: str | None,
        amount: int,
        kind: str,
        path: tuple[str, ...],
    ) -> None:
        sender = self.accounts[source]
        sender.balance -= amount
        sender.reserved -= amount
        assert sender.balance >= 0, "generator bug: overdraft"
        self.counter += 1
        event = self._record(
            _Event(at=at, order=self.counter, kind=kind, source=source, amount=amount, target=target, exit=exit_kind)
        )
        if kind == "victim":
            self.victim_txns[source].append(event.order)
        if target is None:
            return
        receiver = self.accounts[target]
        receiver.balance += amount
        if receiver.level > 0:  # a victim paid back keeps it
            self._on_credit(receiver, at, path + (target,))

    def _do_deposit(self, at: int, target: str, amount: int) -> None:
        self.counter += 1
        self._record(_Event(at=at, order=self.counter, kind="deposit", source=None, amount=amount, target=target))
        self.accounts[target].balance += amount

    def _on_credit(self, account: _Account, at: int, path: tuple[str, ...]) -> None:
        if account.pending or account.forwards >= _MAX_FORWARDS:
            return
        if self._room() <= 0:
            return
        account.pending = True
        self._schedule(at + self.rng.randint(60, 900), ("forward", account.id, path), counts=False)

    def _do_forward(self, at: int, source: str, path: tuple[str, ...]) -> None:
        rng, p = self.rng, self.p
        account = self.accounts[source]
        account.pending = False
        account.forwards += 1
        free = account.free
        room = self._room()
        if free < 1_000 or room <= 0:
            return
        at_limit = account.level >= account.limit
        if rng.random() < (0.4 if at_limit else p["keep_ratio"]):
            return  # keeps the money: something for a freeze to hold
        if rng.random() < 0.25:
            total = free
        else:
            total = int(free * rng.uniform(0.5, 1.0))
        count = min(room, 1 if at_limit else rng.randint(*p["fan_out"]))
        ancestors = list(dict.fromkeys(a for a in path if a != source))
        used: list[str] = []
        for i, amount in enumerate(self._split(total, count)):
            if self._room() <= 0:
                break
            target, exit_kind = self._pick_target(account, ancestors, path, used, at_limit, credit_at=at + i)
            kind = "exit" if target is None else "transfer"
            if target is not None:
                used.append(target)
                if source not in self.accounts[target].senders:
                    self.accounts[target].senders.append(source)
            account.reserved += amount
            self._schedule(at + i, ("transfer", source, target, exit_kind, amount, kind, path))

    def _pick_target(
        self,
        account: _Account,
        ancestors: list[str],
        path: tuple[str, ...],
        used: list[str],
        at_limit: bool,
        credit_at: int,
    ) -> tuple[str | None, str | None]:
        rng, p = self.rng, self.p
        victims = self.payers.get(path[0], []) if path and p.get("profit_ratio") else []
        if victims and not at_limit and rng.random() < p["profit_ratio"]:
            return rng.choice(victims), None  # a fake "profit withdrawal"
        roll = rng.random()
        if at_limit or roll < p["exit_ratio"]:
            return None, rng.choice(_EXITS)
        roll -= p["exit_ratio"]
        if roll < p["cycle_ratio"]:
            back = [a for a in ancestors if a not in used]
            if back:
                return rng.choice(back), None
        elif roll < p["cycle_ratio"] + p["merge_ratio"]:
            # an account another path reached: at the next level or beside this one
            others = [
                a.id
                for a in self.accounts.values()
                if a.level in (account.level, account.level + 1)
                and a.id not in path
                and a.id not in used
                and account.id not in a.senders
            ]
            if others:
                return rng.choice(others), None
        if self._accounts_room() <= 0:
            return None, rng.choice(_EXITS)
        fresh = self._new_account(level=account.level + 1, limit=account.limit, first_credit=credit_at)
        return fresh.id, None

    def _split(self, total: int, count: int) -> list[int]:
        """``count`` positive parts adding up to at most ``total``; a few are small (< 10,000)."""
        rng = self.rng
        weights = [rng.uniform(0.2, 1.0) for _ in range(count)]
        whole = sum(weights)
        parts = []
        for w in weights:
            if rng.random() < self.p["small_ratio"]:
                part = rng.randint(100, 9_999)
            else:
                part = int(total * w / whole)
                if part >= 100_000:
                    part -= part % 10_000  # mules like round sums
            parts.append(part)
        while sum(parts) > total:  # small parts may overshoot a tiny total
            parts[parts.index(max(parts))] //= 2
        return [part for part in parts if part > 0]

    def _new_account(self, *, level: int, limit: int, opening: int | None = None, first_credit: int = 0) -> _Account:
        rng, p = self.rng, self.p
        code, _, prefix = rng.choice(self.bank_list)
        number = _new_number(rng, prefix, self.numbers)
        holder = f"{rng.choice(_SURNAMES)}某{len(self.accounts) + 1}"
        if opening is None:
            opening = rng.randint(100, 500_000) if p["own_money"] else 0
        account = _Account(
            id=f"{code}:{number}", holder=holder, opening=opening, level=level, limit=limit, balance=opening
        )
        self.accounts[account.id] = account
        if level > 0 and p["own_money"]:
            self._own_deposits(account, first_credit)
        return account

    def _own_deposits(self, account: _Account, first_credit: int) -> None:
        """A deposit before the victim's money arrives (placed in the past: nothing else has touched
        the new account yet) and one scheduled after it, each by chance."""
        rng = self.rng
        now = first_credit
        # room for the deposit and for the transfer that brings the victim's money
        if rng.random() < 0.4 and self._room() >= 2:
            self.planned += 1
            self.counter += 1
            amount = rng.randint(1_000, 2_000_000)
            self._record(
                _Event(
                    at=now - rng.randint(60, 7_200),
                    order=self.counter,
                    kind="deposit",
                    source=None,
                    amount=amount,
                    target=account.id,
                )
            )
            account.balance += amount
        if rng.random() < 0.45 and self._room() >= 2:
            self._schedule(now + rng.randint(30, 3_600), ("deposit", account.id, rng.randint(500, 3_000_000)))

    def _ensure_a_late_forward(self) -> None:
        """Make sure some mule moves money after the last victim payment (to schedule later)."""
        last = max((e for e in self.events if e.kind == "victim"), key=lambda e: (e.at, e.order))
        if any(e.at > last.at and e.kind in ("transfer", "exit") for e in self.events):
            return
        # nothing moved on after the last victim payment, so its payee still holds at least that
        assert last.target is not None, "generator bug: a victim payment without a payee"
        mule = self.accounts[last.target]
        end = max(e.at for e in self.events)
        self.counter += 1
        amount = max(1, mule.free // 2)
        mule.balance -= amount
        self._record(
            _Event(
                at=end + self.rng.randint(60, 600),
                order=self.counter,
                kind="exit",
                source=mule.id,
                amount=amount,
                exit=self.rng.choice(_EXITS),
            )
        )

    # ---- output ---------------------------------------------------------------------------------

    def _ordered(self) -> list[_Event]:
        return sorted(self.events, key=lambda e: (e.at, e.order))

    def _times(self, events: list[_Event]) -> list[int]:
        """``at`` of each event relative to the epoch: history ends at or before 0; with delays the
        last few events (a forward among them) come 5-120 s after the epoch."""
        rng = self.rng
        split = len(events)
        if self.p["delays"]:
            last_victim = max(i for i, e in enumerate(events) if e.kind == "victim")
            most = max(3, len(events) // 4)
            valid = [
                s
                for s in range(last_victim + 1, len(events))
                if events[s].at > events[s - 1].at and any(e.kind in ("transfer", "exit") for e in events[s:])
            ]
            few = [s for s in valid if len(events) - s <= most]
            split = rng.choice(few) if few else valid[-1]
        end = events[split - 1].at
        before = rng.randint(0, 600)
        times = [e.at - end - before for e in events[:split]]
        if split < len(events):
            first = events[split].at
            after = rng.randint(5, 120)
            times += [e.at - first + after for e in events[split:]]
        return times

    def ledger_json(self, prefix: str) -> list[dict[str, Any]]:
        events = self._ordered()
        ledger = []
        for seq, (event, at) in enumerate(zip(events, self._times(events), strict=True), start=1):
            item: dict[str, Any] = {"seq": seq, "at": at, "from": event.source}
            if event.exit is not None:
                item["exit"] = event.exit
            else:
                item["to"] = event.target
            item["amount"] = event.amount
            item["txn_id"] = self.txn_ids[event.order] = f"{prefix}-{seq:04d}"
            ledger.append(item)
        return ledger

    def entries_json(self) -> list[dict[str, Any]]:
        """One entry per victim, naming its payments (call after :meth:`ledger_json`)."""
        return [
            {"victim": self.accounts[victim].holder, "transfers": [self.txn_ids[order] for order in orders]}
            for victim, orders in self.victim_txns.items()
        ]

    def banks_json(self) -> list[dict[str, Any]]:
        low, high = self.p["latency_ms"]
        banks = []
        for code, name, _ in self.bank_list:
            bank: dict[str, Any] = {"code": code, "name": name}
            if high:
                bank["latency_ms"] = self.rng.randint(low, high)
            banks.append(bank)
        return banks

    def describe(self, seed: int) -> str:
        mules = [a for a in self.accounts.values() if a.level > 0]
        levels = max((a.level for a in mules), default=0)
        return (
            f"Generated mule network (seed {seed}): {self.p['victims']} victim(s), "
            f"{len(mules)} mule accounts over {levels} level(s), "
            f"{len(self.events)} ledger events. expect.held is not computed."
        )

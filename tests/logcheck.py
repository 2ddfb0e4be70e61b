"""The whole suite's log check: no line stopay logs carries a whole account number, identity number or
victim name.

conftest.py gathers what to look for (every account number, identity number and name the tests'
databases and simulated banks held, and those of the shipped bank networks) and every line stopay
logs, in its own process and in the ones it starts, all appended to the file STOPAY_LOG_FILE names
(stopay.logs copies each line there). At the end of the session it fails if any line leaks one of
them, or any run of 12 or more digits or an 18-character identity number in a string (amounts,
logged as JSON numbers, are not strings).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

LONG_DIGITS = re.compile(r"(?<![0-9A-Za-z])\d{12,}(?![0-9A-Za-z])")
# Ids and hashes, whose hex digits may run to 12 by chance: left out before the digits are looked at.
HEX_IDS = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|(?=[0-9]*[a-f])[0-9a-f]{32,}"
)
PRC_ID = re.compile(
    r"(?<![0-9A-Za-z])\d{6}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
    r"(?![0-9A-Za-z])"
)
TOKEN = re.compile(r"[0-9A-Za-z]+")

_SECRETS_SQL = """
SELECT 'name' AS kind, victim_name AS value FROM cases
UNION SELECT 'number', victim_id_number FROM cases
UNION SELECT 'number', payer_number FROM entry_transfers
UNION SELECT 'number', payee_number FROM entry_transfers
UNION SELECT 'name', payer_holder FROM entry_transfers
UNION SELECT 'name', payee_holder FROM entry_transfers
UNION SELECT 'number', account_number FROM freeze_orders
UNION SELECT 'name', holder_name FROM freeze_orders
"""


CODE_LIKE = re.compile(r"[A-Za-z0-9._:-]{1,16}")


@dataclass
class Secrets:
    numbers: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)

    def number(self, value: str) -> None:
        # Short numbers would be found by chance in amounts and ids; a number of 8 or more characters
        # is one only when it has a letter or 12 or more digits (the masker's own bound).
        if len(value) >= 8 and (len(value) >= 12 or not value.isdigit()):
            self.numbers.add(value)

    def name(self, value: str) -> None:
        # A name shaped like one of stopay's codes or words (ICBC, ACCR, credit, O-1001: ASCII
        # letters, digits and . _ : - only, 16 at most) cannot be told from them in a log line; the
        # hostile-input test gives such names on purpose. Any other name of 2 or more is looked for.
        if len(value.strip()) >= 2 and not CODE_LIKE.fullmatch(value):
            self.names.add(value)

    def account(self, account_id: str) -> None:
        """A bank network's account id, ``BANK:NUMBER``."""
        self.number(account_id.partition(":")[2] or account_id)

    async def from_database(self, dsn: str) -> None:
        """What a test's database holds: its cases' victims, transfers and orders."""
        try:
            conn = await asyncpg.connect(dsn)
        except (OSError, asyncpg.PostgresError):
            return
        try:
            for row in await conn.fetch(_SECRETS_SQL):
                (self.name if row["kind"] == "name" else self.number)(row["value"])
        except asyncpg.PostgresError:
            pass  # a test that left the schema unusable; its lines are still checked for the rest
        finally:
            await conn.close()

    def from_network(self, data: dict[str, Any]) -> None:
        """A bank network (a scenario's JSON): its accounts, holders, and its checks' victims."""
        for account in data.get("accounts", []):
            self.account(str(account.get("id", "")))
            self.name(str(account.get("holder", "")))
        for check in data.get("checks", []):
            for entry in check.get("entries", []):
                self.name(str(entry.get("victim", "")))

    def from_world(self, world: Any) -> None:
        """A simulated bank world, as loaded in a test's app."""
        for account in getattr(getattr(world, "scenario", None), "accounts", ()) or ():
            self.account(str(getattr(account, "id", "")))
            self.name(str(getattr(account, "holder", "")))

    def from_files(self, paths: Iterable[Path]) -> None:
        for path in paths:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(data, dict):
                self.from_network(data)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():  # the keys are stopay's own words
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def texts_of(line: str) -> list[str]:
    """The strings of a JSON log line (its numbers are amounts and counts); a line that is not JSON
    is checked whole."""
    try:
        return list(_strings(json.loads(line)))
    except ValueError:
        return [line]


def leaks(lines: Iterable[str], secrets: Secrets) -> list[tuple[str, str]]:
    """``(what leaked, the line)`` for every line that carries a whole number or name."""
    found = []
    names = sorted(secrets.names, key=lambda name: (-len(name), name))  # the longest said first
    for line in lines:
        for text in texts_of(line):
            what = _leak(text, secrets.numbers, names)
            if what:
                found.append((what, line))
                break
    return found


def _leak(text: str, numbers: set[str], names: list[str]) -> str | None:
    text = HEX_IDS.sub("-", text)
    if m := PRC_ID.search(text):
        return f"identity number {m.group()}"
    if m := LONG_DIGITS.search(text):
        return f"a run of {len(m.group())} digits"
    for token in TOKEN.findall(text):
        if token in numbers:
            return f"account or identity number {token}"
    for name in names:
        if name in text:
            return f"name {name!r}"
    return None

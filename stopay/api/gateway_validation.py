"""Checks a bank's callback (BankGateway.ReportFreezeOutcome) field by field.

A callback is the bank's answer, kept as evidence: what could never be recorded as sent (a NUL or
another control character, text beyond its limit, a time out of range, an unknown exit) is refused
with INVALID_ARGUMENT naming each field, so a bank that follows the contract fixes its report
instead of calling back for ever.
"""

from __future__ import annotations

from google.protobuf import timestamp_pb2

from bank_adapters.protocol import ExitKind
from stopay.api.convert import ANSWER_STATUS, EXIT_KIND
from stopay.api.validation import Violation, _Checker
from stopay.domain.accounts import BANK_CODE
from stopay.domain.text import refusal
from stopay.v1 import gateway_pb2

# The longest text accepted in each field, in characters.
LIMITS = {
    "reason_code": 35,
    "bank_reference": 140,
    "detail": 1000,
    "txn_id": 128,
    "counterparty.bank_code": 35,
    "counterparty.number": 64,
    "counterparty.holder_name": 140,
}
# The exits a bank may report: a bank never says UNKNOWN or BACK_WITH_VICTIM, stopay concludes them.
BANK_EXITS = {EXIT_KIND.number(kind): kind for kind in ExitKind}
FREE_TEXT = ("detail",)  # may hold tabs and newlines; every other field is a code, a reference or a name


def _text(violations: list[Violation], field: str, value: str, limit: int, *, required: bool = False) -> None:
    if required and not value:
        violations.append(Violation(field, "is required"))
    elif len(value) > limit:
        violations.append(Violation(field, f"must be at most {limit} characters"))
    elif problem := refusal(value, free_text=field in FREE_TEXT):
        violations.append(Violation(field, problem))


def _time(violations: list[Violation], field: str, value: timestamp_pb2.Timestamp) -> None:
    check = _Checker()
    check.time(field, value)
    violations += check.violations


def _statement(violations: list[Violation], statement: gateway_pb2.ReportedStatement) -> None:
    if statement.opening_balance_minor < 0:
        violations.append(Violation("statement.opening_balance_minor", "must not be negative"))
    for n, line in enumerate(statement.lines):
        at = f"statement.lines[{n}]"
        if line.kind not in (gateway_pb2.LINE_KIND_CREDIT, gateway_pb2.LINE_KIND_DEBIT):
            violations.append(Violation(f"{at}.kind", "must be LINE_KIND_CREDIT or LINE_KIND_DEBIT"))
        if line.amount_minor <= 0:
            violations.append(Violation(f"{at}.amount_minor", "must be positive"))
        _text(violations, f"{at}.txn_id", line.txn_id, LIMITS["txn_id"], required=True)
        _time(violations, f"{at}.at", line.at)
        if line.exit and line.exit not in BANK_EXITS:
            names = ", ".join(f"EXIT_KIND_{kind.value}" for kind in ExitKind)
            violations.append(Violation(f"{at}.exit", f"must be one of {names}, or unset when no money left"))
        for name in ("bank_code", "number", "holder_name"):
            _text(
                violations,
                f"{at}.counterparty.{name}",
                getattr(line.counterparty, name),
                LIMITS[f"counterparty.{name}"],
            )


def outcome_violations(request: gateway_pb2.FreezeOutcome) -> list[Violation]:
    """Every problem of the callback but its idempotency key (which the gateway reads itself)."""
    violations: list[Violation] = []
    if not BANK_CODE.fullmatch(request.bank_code):
        violations.append(Violation("bank_code", "must be 2 to 11 characters of A-Z and 0-9, starting with a letter"))
    if request.status not in ANSWER_STATUS.numbers():
        names = ", ".join(name for name, n in gateway_pb2.AnswerStatus.items() if n in ANSWER_STATUS.numbers())
        violations.append(Violation("status", f"must be one of {names}"))
    if request.held_minor < 0:
        violations.append(Violation("held_minor", "must not be negative"))
    for name in ("reason_code", "bank_reference", "detail"):
        _text(violations, name, getattr(request, name), LIMITS[name])
    if request.HasField("statement"):
        _statement(violations, request.statement)
    return violations

"""structlog set-up: JSON lines when not on a terminal, and no account or identity number in full."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from stopay.domain.accounts import mask_identity, mask_number

# Anything that looks like an account or identity number: 12 or more characters of 0-9/A-Z with 8+
# digits, however long (a longer run may hold one, and the log cannot tell).
_NUMBER = re.compile(r"(?<![0-9A-Za-z])(?=(?:[A-Z]*\d){8})[0-9A-Z]{12,}(?![0-9A-Za-z])")
_ACCOUNT_KEYS = {"account_number", "number", "payee_number", "payer_number"}
_IDENTITY_KEYS = {"id_number", "victim_id_number"}


def _mask_text(text: str) -> str:
    if len(text) < 12:  # too short to hold a number the pattern masks
        return text
    return _NUMBER.sub(lambda m: mask_number(m.group(0)), text)


def _mask_str(key: str, text: str) -> str:
    if key in _ACCOUNT_KEYS:
        return mask_number(text)
    if key in _IDENTITY_KEYS:
        return mask_identity(text)
    return _mask_text(text)


def _mask_value(key: str, value: Any) -> Any:
    # Plain strings first, with one check: most values of a line are (every line is masked).
    if type(value) is str:
        return _mask_str(key, value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, dict):
        return {k: _mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_mask_value(key, v) for v in value]
    return _mask_str(key, value if isinstance(value, str) else str(value))


def mask_numbers(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> dict[str, Any]:
    """structlog processor: masks account and identity numbers wherever they appear, nested values
    and objects (rendered as text) included. Exceptions are rendered before this runs."""
    return {key: _mask_value(key, value) for key, value in event.items()}


def _copy_line(_logger: Any, _name: str, line: Any) -> Any:
    """The last processor: appends the rendered line to the file STOPAY_LOG_FILE names, if any (the
    tests read every line stopay writes, in their own process and in the ones they start, there)."""
    path = os.environ.get("STOPAY_LOG_FILE")
    if path:
        # One write per line, appended: processes sharing the file do not cut each other's lines.
        with open(path, "a", encoding="utf-8") as out:
            out.write((line if isinstance(line, str) else str(line)) + "\n")
    return line


def configure(level: str = "info", json: bool | None = None) -> None:
    if json is None:
        json = not sys.stderr.isatty()
    renderer: Any = structlog.processors.JSONRenderer(ensure_ascii=False) if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            mask_numbers,
            renderer,
            _copy_line,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )

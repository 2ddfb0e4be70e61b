"""Argument types shared by every command: HOST:PORT addresses, amounts in yuan, durations, times,
accounts."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime

from stopay.domain.money import parse_major


def split_host_port(text: str, *, listen: bool = False) -> tuple[str, int]:
    """``"127.0.0.1:50051"`` or ``"[::1]:50051"`` -> ``(host, port)``; raises ValueError saying why.

    The port is required and is 1 to 65535; 0 (any free port) only where ``listen`` is true.
    """
    if text.startswith("["):
        host, close, rest = text[1:].partition("]")
        if not close or not rest.startswith(":"):
            raise ValueError(f"{text!r} is not [IPV6]:PORT")
        port_text = rest[1:]
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise ValueError(f"{text!r} has no port: give HOST:PORT, e.g. 127.0.0.1:50051")
        if ":" in host:
            raise ValueError(f"{text!r}: put an IPv6 address in brackets, e.g. [::1]:50051")
    if not host:
        raise ValueError(f"{text!r} has no host: give HOST:PORT, e.g. 127.0.0.1:50051")
    if not (port_text.isascii() and port_text.isdigit()):
        raise ValueError(f"{text!r}: the port must be a number" + (" (0 picks a free one)" if listen else ""))
    port = int(port_text)
    least = 0 if listen else 1
    if not least <= port <= 65535:
        raise ValueError(f"{text!r}: the port must be from {least} to 65535")
    return host, port


def server_address(text: str) -> str:
    """An argparse type: a HOST:PORT to connect to."""
    try:
        split_host_port(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def listen_address(text: str) -> str:
    """An argparse type: a HOST:PORT to listen on; port 0 picks a free one."""
    try:
        split_host_port(text, listen=True)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def yuan(text: str) -> int:
    """An argparse type: an amount in yuan (``1234.56``, ``1,234.5``, ``600``) -> fen, exactly."""
    try:
        return parse_major(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_DURATION = re.compile(r"^(\d+)([smhd]?)$")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> int:
    """An argparse type: ``900``, ``900s``, ``15m``, ``2h`` or ``1d`` -> seconds."""
    found = _DURATION.match(text.strip())
    if not found:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 900s, 15m or 2h")
    return int(found.group(1)) * _SECONDS[found.group(2)]


def instant(text: str) -> datetime:
    """An argparse type: an ISO 8601 time with a UTC offset, e.g. ``2026-11-01T09:30:00+08:00``."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset, e.g. +08:00")
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time between the years 1 and 9999 in UTC") from None
    return value


def account_arg(text: str) -> tuple[str, str]:
    """An argparse type: ``BANK:NUMBER`` -> ``(bank, number)``."""
    bank, sep, number = text.partition(":")
    if not sep or not bank or not number:
        raise argparse.ArgumentTypeError(f"{text!r} is not BANK:NUMBER")
    return bank, number

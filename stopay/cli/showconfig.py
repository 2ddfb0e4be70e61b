"""``stopay config show [SERVE FLAGS]``: the settings ``stopay serve`` would run with, given the same
flags, environment and config file: each with its value and where it came from (flag, environment,
config file, default). Passwords in DSNs and adapter options are masked; key files are named, never
read."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from stopay.config import config_file, source_of

# Settings that are not shown: how serve reports its port, and the help.
_HIDDEN = ("help", "port_file")
_SECRET_OPTION = re.compile(r"((?:password|passwd|secret|token)\s*=\s*)[^;&\s]*", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(://[^/@:]*):[^/@]*@")
MASK = "****"


def add_parser(commands: Any) -> None:
    config = commands.add_parser("config", help="the effective settings of serve, with their sources")
    actions = config.add_subparsers(dest="action", required=True)
    show = actions.add_parser(
        "show",
        help="print the settings serve would run with (serve's flags may follow), where each comes from,"
        " secrets masked",
    )
    show.add_argument("--json", action="store_true", help="output for programs")


def mask(text: str) -> str:
    """A DSN or option string without its passwords: ``postgresql://u:****@h/db``, ``password=****``."""
    return _SECRET_OPTION.sub(rf"\g<1>{MASK}", _URL_PASSWORD.sub(rf"\g<1>:{MASK}@", text))


def _serve_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found = action.choices["serve"]
            assert isinstance(found, argparse.ArgumentParser)
            return found
    raise LookupError("serve")


def _given(flags: list[str]) -> set[str]:
    """The settings given on the command line: parsed again with no defaults at all."""
    from stopay.cli.main import build_parser

    probe = _serve_parser(build_parser())
    for action in probe._actions:
        action.default = argparse.SUPPRESS
    return set(vars(probe.parse_args(flags)))


def _shown(dest: str, value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_shown(dest, v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str) and (dest.endswith("dsn") or dest == "adapter"):
        return mask(value)
    return value


def settings(flags: list[str]) -> list[dict[str, Any]]:
    """One row per serve setting: its name (the flag's), value and source."""
    from stopay.cli.main import build_parser
    from stopay.cli.serve import _min_amount, from_file

    serve = _serve_parser(build_parser())
    args = serve.parse_args(flags)
    from_file(args)
    given = _given(flags)
    rows = []
    for action in serve._actions:
        if action.dest in _HIDDEN or not action.option_strings:
            continue
        value = getattr(args, action.dest)
        if action.dest in given:
            source = "flag"
        elif action.dest == "min_amount":
            value = _min_amount(None)
            named = [n for n in ("MIN_AMOUNT_YUAN", "MIN_AMOUNT") if source_of(n) != "default"]
            source = source_of(named[0]) if named else "default"
        else:
            source = source_of(action.dest.upper())
        if action.dest == "min_amount":  # in yuan, as the flag takes it
            value = f"{value // 100}.{value % 100:02d}"
        rows.append(
            {"setting": action.option_strings[-1].lstrip("-"), "value": _shown(action.dest, value), "source": source}
        )
    return rows


def run(args: argparse.Namespace) -> int:
    rows = settings(args.serve_flags)
    found = config_file()
    if args.json:
        print(json.dumps({"config_file": str(found.path) if found else None, "settings": rows}, ensure_ascii=False))
        return 0
    print(f"config file: {found.path if found else '(none)'}")
    width = max(len(r["setting"]) for r in rows)
    for row in rows:
        value = row["value"]
        text = (", ".join(map(str, value)) or "-") if isinstance(value, list) else "-" if value is None else str(value)
        print(f"{row['setting'].ljust(width)}  {text}  [{row['source']}]")
    return 0

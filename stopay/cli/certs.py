"""``stopay certs``: the development PKI for mutual TLS (a CA, the server's and clients' certificates)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from stopay.cli import exits
from stopay.security import pki


def _days(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= pki.MAX_DAYS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days from 1 to {pki.MAX_DAYS}")
    return value


def add_parser(commands: Any) -> None:
    certs = commands.add_parser("certs", help="development certificates for mutual TLS (docs/security.md)")
    actions = certs.add_subparsers(dest="action", required=True)
    init = actions.add_parser(
        "init", help="write a new CA and the server's certificate: ca.pem, ca.key, server.pem, server.key"
    )
    init.add_argument("dir", type=Path, metavar="DIR", help="directory for the files (created if absent)")
    init.add_argument(
        "--host",
        action="append",
        default=[],
        metavar="NAME",
        help="another DNS name or IP address of the server, besides localhost, 127.0.0.1 and ::1 (repeatable)",
    )
    init.add_argument(
        "--days",
        type=_days,
        default=pki.CA_DAYS,
        metavar="N",
        help=f"the CA's validity in days (default {pki.CA_DAYS}); the server's certificate lasts "
        f"{pki.LEAF_DAYS} days, or N if fewer",
    )
    init.add_argument(
        "--force", action="store_true", help="replace an existing CA (every certificate it signed stops being trusted)"
    )
    issue = actions.add_parser(
        "issue", help="write a client certificate for ROLE/NAME, signed by DIR's CA: ROLE-NAME.pem and ROLE-NAME.key"
    )
    issue.add_argument("dir", type=Path, metavar="DIR", help="the directory of `stopay certs init`")
    issue.add_argument("role", metavar="ROLE", help=", ".join(pki.ROLES))
    issue.add_argument("name", metavar="NAME", help="1 to 64 characters of A-Z a-z 0-9 . _ -, e.g. 500106-01")
    issue.add_argument(
        "--days", type=_days, default=pki.LEAF_DAYS, metavar="N", help=f"validity in days (default {pki.LEAF_DAYS})"
    )


def run(args: argparse.Namespace) -> int:
    try:
        if args.action == "init":
            ca, server = pki.init_ca(args.dir, hosts=args.host, days=args.days, force=args.force)
            _show("CA", ca)
            _show("server", server)
        else:
            _show(pki.identity_uri(args.role, args.name), pki.issue(args.dir, args.role, args.name, days=args.days))
    except pki.PkiError as exc:
        raise exits.Failure(exits.LOCAL, str(exc)) from None
    return exits.OK


def _show(what: str, written: pki.Written) -> None:
    print(
        f"{written.cert}  {what} certificate, serial {written.serial:x}, valid until "
        f"{written.not_after:%Y-%m-%d %H:%M:%S} UTC"
    )
    print(f"{written.key}  its private key (keep it secret)")

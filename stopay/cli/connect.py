"""Reaching stopay from the command line: ``--server HOST:PORT`` (STOPAY_SERVER) on every client
command; mutual TLS, the same flags on ``serve``, ``bank-sim`` and every client command
(``--tls-ca``, ``--tls-cert``, ``--tls-key``; STOPAY_TLS_CA, STOPAY_TLS_CERT, STOPAY_TLS_KEY), and
``--insecure`` for plain text, which only a loopback address allows."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import grpc

from stopay.api.tls import TlsFiles, channel_credentials, is_loopback
from stopay.cli.args import server_address, split_host_port
from stopay.cli.exits import LOCAL, Failure

Env = Callable[..., str | None]


def add_server_flag(parser: argparse.ArgumentParser, env: Env, default: str) -> None:
    """``--server HOST:PORT``: STOPAY_SERVER when set, else ``default``."""
    parser.add_argument(
        "--server",
        type=server_address,
        metavar="HOST:PORT",
        default=env("SERVER", default),
        help=f"HOST:PORT of stopay (STOPAY_SERVER, default {default})",
    )


def add_tls_flags(parser: argparse.ArgumentParser, env: Env, *, serving: bool) -> None:
    group = parser.add_argument_group("mutual TLS")
    group.add_argument(
        "--tls-ca",
        type=Path,
        default=env("TLS_CA"),
        metavar="FILE",
        help="the CA that signs every certificate (STOPAY_TLS_CA)",
    )
    group.add_argument(
        "--tls-cert",
        type=Path,
        default=env("TLS_CERT"),
        metavar="FILE",
        help="this side's certificate (STOPAY_TLS_CERT)",
    )
    group.add_argument(
        "--tls-key", type=Path, default=env("TLS_KEY"), metavar="FILE", help="this side's private key (STOPAY_TLS_KEY)"
    )
    if serving:
        group.add_argument(
            "--tls-deny",
            type=Path,
            default=env("TLS_DENY"),
            metavar="FILE",
            help="revoked certificates: serial numbers in hex, one per line (STOPAY_TLS_DENY)",
        )
        group.add_argument(
            "--insecure", action="store_true", help="plain-text gRPC, nobody authenticated: only on a loopback address"
        )
    else:
        group.add_argument(
            "--insecure", action="store_true", help="plain text even to a server that is not on this machine"
        )


def tls_files(args: argparse.Namespace) -> TlsFiles | None:
    given = {"--tls-ca": args.tls_ca, "--tls-cert": args.tls_cert, "--tls-key": args.tls_key}
    if not any(given.values()):
        return None
    missing = [flag for flag, value in given.items() if not value]
    if missing:
        raise Failure(LOCAL, f"--tls-ca, --tls-cert and --tls-key go together; missing {', '.join(missing)}")
    for flag, value in given.items():
        if not Path(value).is_file():
            raise Failure(LOCAL, f"{flag}: {value} is not a readable file")
    deny = getattr(args, "tls_deny", None)
    return TlsFiles(Path(args.tls_ca), Path(args.tls_cert), Path(args.tls_key), Path(deny) if deny else None)


def serving_tls(args: argparse.Namespace, listen: str) -> TlsFiles | None:
    """The server's TLS files; None only with ``--insecure`` on a loopback address."""
    files = tls_files(args)
    if files and args.insecure:
        raise Failure(LOCAL, "--insecure and the --tls-* flags exclude each other")
    if files:
        return files
    if not args.insecure:
        raise Failure(
            LOCAL,
            "give --tls-ca, --tls-cert and --tls-key (see `stopay certs init`), "
            "or --insecure to serve plain text on a loopback address",
        )
    host, _ = split_host_port(listen, listen=True)
    if not is_loopback(host):
        raise Failure(LOCAL, f"--insecure serves plain text only on a loopback address, not {host}")
    return None


def open_channel(args: argparse.Namespace, target: str | None = None) -> grpc.aio.Channel:
    """A channel to ``--server``: mutual TLS when configured; plain text to a loopback address, or
    anywhere with ``--insecure``."""
    target = target or args.server
    files = tls_files(args)
    if files:
        try:
            return grpc.aio.secure_channel(target, channel_credentials(files))
        except ValueError as exc:
            raise Failure(LOCAL, str(exc)) from exc
    host, _ = split_host_port(target)
    if args.insecure or is_loopback(host):
        return grpc.aio.insecure_channel(target)
    raise Failure(
        LOCAL,
        f"{target} is not on this machine: give --tls-ca, --tls-cert and --tls-key (or --insecure for plain text)",
    )

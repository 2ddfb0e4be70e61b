"""Exit statuses of every ``stopay`` command, and the one place that turns a failure into a short
message on stderr and its status (docs/cli.md has the table).

A traceback is printed only with ``--log-level debug``.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from urllib.parse import urlparse

OK = 0
REFUSED = 1  # the service answered and refused (or `audit verify` found a broken chain)
LOCAL = 2  # bad usage, or a local error: unreadable file, bad JSON, bad configuration
UNREACHABLE = 3  # the service or the database cannot be reached now, or the port or data directory is taken
INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it
BROKEN_PIPE = 141  # the reader of standard output went away (128 + SIGPIPE), as for other Unix tools

# gRPC statuses that mean "not reached, or not now": the same call may work later.
UNREACHABLE_CODES = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED"})


class Failure(Exception):
    """A failure to report as one line with its exit status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def rpc_status(code_name: str) -> int:
    return UNREACHABLE if code_name in UNREACHABLE_CODES else REFUSED


def database_failure(exc: BaseException, dsn: str | None) -> Failure:
    """Why a PostgreSQL named by ``dsn`` could not be used, in one line, with its status: not
    reachable (3), or named wrongly: no such database, login refused (2). The password is never shown."""
    import asyncpg

    cause = exc.__cause__ if exc.__cause__ is not None else exc
    where = _where(dsn) if dsn else "the embedded PostgreSQL"
    if isinstance(cause, asyncpg.InvalidCatalogNameError):
        return Failure(LOCAL, f"{getattr(cause, 'message', cause)} at {where}: create it, or name another in the DSN")
    if isinstance(cause, asyncpg.InvalidAuthorizationSpecificationError | asyncpg.InvalidPasswordError):
        return Failure(LOCAL, f"PostgreSQL at {where} refused the login: {getattr(cause, 'message', cause)}")
    if isinstance(
        cause,
        OSError
        | TimeoutError
        | asyncpg.CannotConnectNowError
        | asyncpg.ConnectionDoesNotExistError
        | asyncpg.InterfaceError
        | asyncpg.TargetServerAttributeNotMatched,  # every host is down, a standby or read-only
    ):
        reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(cause) or type(cause).__name__
        return Failure(UNREACHABLE, f"cannot reach PostgreSQL at {where}: {reason} (is it running?)")
    return Failure(LOCAL, str(exc))


def store_failure(exc: BaseException) -> Failure:
    """A store operation that failed once the database was open: out of reach (3, try again), or
    refused (2)."""
    from stopay.domain.errors import StoreUnavailable

    return Failure(UNREACHABLE if isinstance(exc, StoreUnavailable) else LOCAL, str(exc))


def _where(dsn: str) -> str:
    try:
        parsed = urlparse(dsn)
        hosts = parsed.netloc.rpartition("@")[2]
        if "," in hosts:  # several hosts, tried in turn (docs/reliability.md)
            return f"{hosts}{parsed.path or ''}"
        host = parsed.hostname or "the local socket"
        port = f":{parsed.port}" if parsed.port else ""
    except ValueError:
        return "the DSN given"
    return f"{host}{port}{parsed.path or ''}"


def guard(prog: str, call: Callable[[], int], *, debug: bool) -> int:
    """Runs ``call`` and returns its status; a failure becomes a message on stderr and its status."""
    import grpc
    from google.protobuf import json_format

    from stopay.store.embedded import DataDirInUse, EmbeddedFailed

    try:
        status = call()
        sys.stdout.flush()  # a closed pipe shows here, not in Python's own flush at exit
        return status
    except BrokenPipeError:
        # `stopay audit export | head -1`: the reader has what it wanted. Stop quietly, and keep
        # Python from complaining again when it flushes standard output at exit.
        _quiet_stdout()
        return BROKEN_PIPE
    except KeyboardInterrupt:
        return _say(prog, INTERRUPTED, "interrupted", debug)
    except Failure as exc:
        return _say(prog, exc.status, exc.message, debug)
    except DataDirInUse as exc:
        return _say(prog, UNREACHABLE, str(exc), debug)
    except EmbeddedFailed as exc:
        return _say(prog, LOCAL, str(exc), debug)
    except grpc.RpcError as exc:
        from stopay.cli.client import describe_error

        return _say(prog, rpc_status(exc.code().name), describe_error(exc), debug)
    except json_format.ParseError as exc:
        return _say(prog, LOCAL, f"not valid JSON for this request: {exc}", debug)
    except OSError as exc:
        return _say(prog, LOCAL, str(exc), debug)
    except Exception as exc:
        return _say(
            prog, LOCAL, f"unexpected error: {type(exc).__name__}: {exc} (--log-level debug shows where)", debug
        )


def _say(prog: str, status: int, message: str, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    print(f"{prog}: {message}" if prog else message, file=sys.stderr, flush=True)
    return status


def _quiet_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass

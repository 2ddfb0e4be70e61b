"""Settings of a stopay process, from command-line flags, ``STOPAY_*`` environment variables and a
TOML config file (``--config PATH`` or ``STOPAY_CONFIG``). A flag given wins over the environment,
the environment over the file, the file over the defaults (docs/operations.md#configuration)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stopay.api.quotas import Quotas
from stopay.dispatch.dispatcher import DispatchSettings
from stopay.domain.clock import SYSTEM_CLOCK, Clock
from stopay.domain.holds import HoldPolicy
from stopay.domain.trail import Limits
from stopay.store.embedded import default_data_dir

if TYPE_CHECKING:  # the TLS module imports gRPC, which must not be imported before the CLI sets it up
    from stopay.api.tls import TlsFiles


@dataclass(frozen=True, slots=True)
class Settings:
    listen: str = "127.0.0.1:50051"
    # HOST:PORT of the Prometheus metrics' HTTP endpoint (/metrics); None: no metrics.
    metrics_listen: str | None = None
    # PostgreSQL to use; None starts the embedded server in data_dir.
    dsn: str | None = None
    # The schema owner's DSN: migrations run through it, and the role of dsn is granted its
    # privileges (docs/security.md). None: migrations run through dsn.
    migrate_dsn: str | None = None
    # An Ed25519 private key file: sign a checkpoint of the audit chains' heads every
    # checkpoint_every_s seconds (docs/audit.md). None: no checkpoints from this process.
    checkpoint_key: Path | None = None
    checkpoint_every_s: float = 300.0
    data_dir: Path = field(default_factory=default_data_dir)
    # Bank-network scenario files served by the simulated adapter.
    bank_networks: tuple[Path, ...] = ()
    # Time zero of every bank network whose file sets none (default: when it is loaded).
    network_epoch: datetime | None = None
    # bank code -> adapter name, for banks not in a bank network.
    bank_routes: dict[str, str] = field(default_factory=dict)
    # Adapters built with options, each serving the banks it says it serves (its bank_codes):
    # (adapter name, options), e.g. ("grpc", {"target": "10.0.0.5:7000", "banks": "ICBC,ABC"}).
    adapters: tuple[tuple[str, dict[str, Any]], ...] = ()
    # bank code -> an adapter already built (for programs that embed stopay, and for tests).
    bank_adapters: dict[str, Any] = field(default_factory=dict)
    # The tracing policy given to each new case: attribution rule, depth and smallest amount followed.
    limits: Limits = field(default_factory=Limits)
    # The largest request message the server accepts (grpc.max_receive_message_length); gRPC's own
    # default, made explicit. A larger one is refused with RESOURCE_EXHAUSTED.
    max_message_bytes: int = 4 * 1024 * 1024
    # A later report of a transfer is linked to the first only when their times are this close.
    same_transfer_window_s: float = 120.0
    # The case watchers' slow sweep: a watched case no read looked at for this long is read again
    # (at most 5 a second), in case a notification of its change was lost (service/watch.py).
    watch_sweep_s: float = 60.0
    dispatcher: bool = True
    # False (serve --no-migrate): the schema is only checked, and a schema behind the code is refused.
    migrate: bool = True
    dispatch: DispatchSettings = field(default_factory=DispatchSettings)
    # How long holds last, when the sweeper warns of an expiry, the notice of a return (docs/holds.md).
    holds: HoldPolicy = field(default_factory=HoldPolicy)
    shutdown_grace_s: float = 5.0
    # The clock the service reads on the Python side (tests give a fake one).
    clock: Clock = SYSTEM_CLOCK
    # Mutual TLS; None serves plain text, and only on a loopback address (nobody is authenticated).
    tls: TlsFiles | None = None
    # Per-caller quotas (only callers with a certificate have an identity to count by).
    quotas: Quotas = field(default_factory=Quotas)
    # A center's region: center name -> the station-id prefixes of its stations.
    regions: dict[str, tuple[str, ...]] = field(default_factory=dict)


# Keys of the config file that are not read through env() while the parser is built: the serve
# flags that repeat (a list in the file), its switches (true or false), and the settings read after
# parsing.
FILE_LISTS = ("BANK_NETWORK", "BANK", "ADAPTER", "REGION")
FILE_SWITCHES = ("NO_DISPATCHER", "NO_MIGRATE")
READ_LATER = ("LOG_LEVEL", "MIN_AMOUNT_YUAN", "MIN_AMOUNT")


class ConfigFileError(ValueError):
    """A config file that cannot be read or holds what stopay does not know."""


@dataclass(frozen=True, slots=True)
class ConfigFile:
    path: Path
    # The file's keys in upper case, as the STOPAY_* variables name them: "lease_seconds" -> "LEASE_SECONDS".
    values: dict[str, Any]


_file: ConfigFile | None = None
_asked: set[str] = set()


def use_config_file(path: Path | None) -> ConfigFile | None:
    """Reads the TOML file every later env() falls back on (None: no file)."""
    global _file
    _asked.clear()
    _file = None
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise ConfigFileError(f"config file {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"config file {path}: not valid TOML: {exc}") from exc
    values: dict[str, Any] = {}
    for key, value in data.items():
        name = key.replace("-", "_").upper()
        if name in FILE_LISTS:
            if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise ConfigFileError(f"config file {path}: {key} must be a list of strings")
        elif name in FILE_SWITCHES:
            if not isinstance(value, bool):
                raise ConfigFileError(f"config file {path}: {key} must be true or false")
        elif isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ConfigFileError(f"config file {path}: {key} must be a string or a number")
        values[name] = value
    _file = ConfigFile(Path(path), values)
    return _file


def config_file() -> ConfigFile | None:
    return _file


def check_config_keys() -> None:
    """Refuses a key of the config file that no setting reads (call once the parser is built)."""
    if _file is None:
        return
    known = _asked | set(FILE_LISTS) | set(FILE_SWITCHES) | set(READ_LATER)
    unknown = sorted(name.lower() for name in _file.values if name not in known)
    if unknown:
        raise ConfigFileError(f"config file {_file.path}: unknown key {', '.join(unknown)}")


def env(name: str, default: str | None = None) -> str | None:
    """The setting ``name``: ``STOPAY_NAME`` when set, else the config file's ``name`` (lower case),
    else ``default``. Flags whose default this is win over all three."""
    _asked.add(name)
    value = os.environ.get(f"STOPAY_{name}")
    if value not in (None, ""):
        return value
    if _file is not None and name in _file.values and name not in FILE_LISTS + FILE_SWITCHES:
        return str(_file.values[name])
    return default


def file_list(name: str) -> list[str]:
    """A repeatable flag's values from the config file (flags given on the command line replace them)."""
    return list(_file.values.get(name, [])) if _file else []


def file_switch(name: str) -> bool:
    return bool(_file.values.get(name, False)) if _file else False


def source_of(name: str) -> str:
    """Where env(name) found its value: ``environment``, ``config file`` or ``default`` (a setting
    that no variable names, such as a repeatable flag, comes from the file or its default)."""
    if (name in _asked or name in READ_LATER) and os.environ.get(f"STOPAY_{name}") not in (None, ""):
        return f"environment (STOPAY_{name})"
    if _file is not None and name in _file.values:
        return f"config file ({_file.path})"
    return "default"

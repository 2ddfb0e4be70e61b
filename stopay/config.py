"""Settings of a stopay process, from command-line flags and ``STOPAY_*`` environment variables."""

from __future__ import annotations

import os
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


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(f"STOPAY_{name}")
    return value if value not in (None, "") else default

"""What every drill runs on top of its database: bank-sim as its own process (counting the freeze
requests it gets), stopay replicas routed to it, the load, and the figures at the end."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from stopay.banksim.tally import read_tally
from stopay.drills import figures
from stopay.drills.load import Loader
from stopay.drills.procs import Child, stopay_argv
from stopay.drills.sql import query

__all__ = ["Stage", "say"]

POLL_S = 1.0


def say(line: str) -> None:
    """A line of the drill's story, on stderr (stdout keeps the figures)."""
    import sys

    print(f"{time.strftime('%H:%M:%S')} {line}", file=sys.stderr, flush=True)


class Stage:
    """bank-sim on ``network`` and ``replicas`` stopay replicas on ``dsn``, in ``workdir``."""

    def __init__(
        self, workdir: Path, dsn: str, network: Path, banks: Sequence[str], replicas: int, orders_per_case: int
    ) -> None:
        self.workdir = workdir
        self.orders_per_case = orders_per_case
        self.dsn = dsn
        self.counts = workdir / "bank-counts.json"
        self.banksim = Child(
            "bank-sim",
            stopay_argv(
                "bank-sim",
                "--insecure",
                "--bank-network",
                str(network),
                "--listen",
                "127.0.0.1:0",
                "--port-file",
                str(workdir / "bank-sim.port"),
                "--counts-file",
                str(self.counts),
            ),
            workdir / "bank-sim.log",
            port_file=workdir / "bank-sim.port",
        )
        self.banks = list(banks)
        self.replicas: list[Child] = []
        for i in range(replicas):
            port = workdir / f"stopay{i}.port"
            self.replicas.append(Child(f"stopay replica {i}", [], workdir / f"stopay{i}.log", port_file=port))
        self._ports: dict[int, int] = {}

    def _serve_argv(self, i: int) -> list[str]:
        listen = f"127.0.0.1:{self._ports.get(i, 0)}"
        # the first replica migrates; the others, and any replica started again, only check the schema
        migrate = [] if i == 0 and i not in self._ports else ["--no-migrate"]
        return stopay_argv(
            "serve",
            "--insecure",
            *migrate,
            "--dsn",
            self.dsn,
            "--listen",
            listen,
            "--port-file",
            str(self.workdir / f"stopay{i}.port"),
            "--adapter",
            f"grpc:target=127.0.0.1:{self.banksim.port};banks={','.join(self.banks)}",
        )

    async def start(self) -> None:
        await self.banksim.start()
        say(f"bank-sim serving {', '.join(self.banks)} on port {self.banksim.port}")
        for i, replica in enumerate(self.replicas):  # the first migrates; the others find it done
            replica.argv = self._serve_argv(i)
            if i == 0:
                await replica.start()
        await asyncio.gather(*(r.start() for r in self.replicas[1:]))
        for i, replica in enumerate(self.replicas):
            self._ports[i] = replica.port  # a replica started again listens where it did
            replica.argv = self._serve_argv(i)
        say(f"{len(self.replicas)} stopay replicas serving on ports {', '.join(str(p) for p in self._ports.values())}")

    @property
    def targets(self) -> list[str]:
        return [f"127.0.0.1:{p}" for p in self._ports.values()]

    async def stop(self) -> dict[str, Any]:
        """Stops the replicas and bank-sim; returns bank-sim's tally."""
        await asyncio.gather(*(r.stop() for r in self.replicas))
        await self.banksim.stop()
        return read_tally(self.counts) if self.counts.exists() else {"freeze_requests": 0, "keys": {}}

    async def _fetch(self, name: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.dsn, timeout=5)
        try:
            return list(await conn.fetch(query(name), *args))
        finally:
            await conn.close()

    async def settle(self, settle_s: float) -> tuple[int, int, float]:
        """Waits until no order is open, ``settle_s`` at most; returns (open, orders, seconds waited)."""
        began = time.monotonic()
        open_orders, orders = -1, -1
        while time.monotonic() - began < settle_s:
            try:
                row = (await self._fetch("progress"))[0]
                open_orders, orders = row["open_orders"], row["orders"]
            except (TimeoutError, OSError, asyncpg.PostgresError):
                pass
            if open_orders == 0:
                break
            await asyncio.sleep(POLL_S)
        return open_orders, orders, round(time.monotonic() - began, 1)

    async def entry_to_hold(self) -> list[asyncpg.Record]:
        return await self._fetch("entry_to_hold")

    async def figures(
        self, drill: str, loader: Loader, fault_at: float | None, settle_s: float, **extra: Any
    ) -> dict[str, Any]:
        """Settles, stops the stage, and computes the figures every drill prints."""
        say(
            f"load done: {len(loader.acked)} of {loader.sent} entries acknowledged; settling (at most {settle_s:.0f} s)"
        )
        open_orders, orders, waited = await self.settle(settle_s)
        stored_row = (await self._fetch("cases_stored", loader.acked))[0]
        by_status = {r["status"]: r["orders"] for r in await self._fetch("orders_by_status")}
        shape = (await self._fetch("cases_off_shape", self.orders_per_case))[0]
        by_kind: dict[str, int] = json.loads(shape["by_kind"])
        tally = await self.stop()
        doubled = figures.doubled_at_banks(tally)
        out: dict[str, Any] = {
            "drill": drill,
            "entries_sent": loader.sent,
            "entries_acked": len(loader.acked),
            "entries_refused": len(loader.refused),
            "entries_abandoned": len(loader.abandoned),
            "cases_stored": stored_row["stored"],
            "acked_not_stored": len(loader.acked) - stored_row["stored"],
            "orders": orders,
            "orders_by_status": by_status,
            "orders_by_kind": by_kind,
            "cases_off_shape": shape["off_shape"],
            # a stop opened by a follow-up that a crash cut off: its freeze order freezes instead,
            # one statement later (stopay/service/answers/apply.py, follow_up)
            "stops_lost": by_kind.get("freeze", 0) - by_kind.get("stop", 0),
            "freeze_orders_that_froze": figures.unstopped_freezes(tally),
            "orders_stuck": open_orders,
            "orders_doubled_at_banks": doubled["orders_under_two_keys"] + doubled["accounts_frozen_twice_in_a_case"],
            **doubled,
            "freeze_requests": tally.get("freeze_requests", 0),
            "freeze_keys": len(tally.get("keys", {})),
            "resent_keys": figures.resent_keys(tally),
            "recovery_s": None if fault_at is None else figures.recovery_s(loader.calls, fault_at),
            "longest_gap_s": None if fault_at is None else figures.longest_gap_s(loader.calls, fault_at),
            "client_retries": loader.retries,
            "settled_in_s": waited,
            "replicas": len(self.replicas),
            **extra,
            "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ"),
        }
        if loader.refused:
            out["first_refusal"] = next(iter(loader.refused.values()))
        return out


def dump(figs: dict[str, Any]) -> str:
    return json.dumps(figs, ensure_ascii=False)

"""``stopay drill NAME``: a fault drill on this machine; its figures as one JSON line on stdout
(docs/reliability.md#drills)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any

from stopay.cli.exits import LOCAL, Failure


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def add_parser(commands: Any) -> None:
    from stopay.drills.run import DRILLS, Options

    d = Options()
    drill = commands.add_parser(
        "drill",
        help="run a fault drill on this machine and print its figures (not for a production host)",
        description="Starts what the drill needs on local ports (PostgreSQL or a Patroni cluster with etcd, "
        "bank-sim, stopay replicas), loads it with entries, injects the fault, waits for every order to end, "
        "and prints the figures as one JSON object on the last line of stdout.",
    )
    drill.add_argument("name", choices=sorted(DRILLS), help="the fault")
    drill.add_argument("--replicas", type=int, default=d.replicas, help=f"stopay replicas (default {d.replicas})")
    drill.add_argument("--rate", type=positive_float, default=d.rate, help=f"entries a second (default {d.rate:g})")
    drill.add_argument(
        "--load-seconds", type=positive_float, default=d.load_s, help=f"seconds of load (default {d.load_s:g})"
    )
    drill.add_argument(
        "--fault-after",
        type=positive_float,
        default=d.fault_after_s,
        metavar="SECONDS",
        help=f"seconds into the load when the fault comes (default {d.fault_after_s:g})",
    )
    drill.add_argument(
        "--settle",
        type=positive_float,
        default=d.settle_s,
        metavar="SECONDS",
        help=f"longest wait for every order to end after the load (default {d.settle_s:g})",
    )
    drill.add_argument("--kills", type=int, default=d.kills, help=f"kill-replicas: SIGKILLs (default {d.kills})")
    drill.add_argument(
        "--outage", type=positive_float, default=d.outage_s, metavar="SECONDS", help="bank-outage: seconds down"
    )
    drill.add_argument(
        "--down", type=positive_float, default=d.down_s, metavar="SECONDS", help="db-restart: seconds down"
    )
    drill.add_argument("--seed", type=int, help="kill-replicas: the seed of the kills' moments and victims")
    drill.add_argument("--keep", action="store_true", help="keep the drill's files and logs")


def run(args: argparse.Namespace) -> int:
    from stopay.drills.run import Options
    from stopay.drills.run import run as run_drill
    from stopay.drills.stage import dump

    if args.replicas < 1 or args.kills < 1:
        raise Failure(LOCAL, "--replicas and --kills must be 1 or more")
    options = Options(
        replicas=args.replicas,
        rate=args.rate,
        load_s=args.load_seconds,
        fault_after_s=args.fault_after,
        settle_s=args.settle,
        kills=args.kills,
        outage_s=args.outage,
        down_s=args.down,
        seed=args.seed,
        keep=args.keep,
    )

    async def drill() -> dict[str, Any]:
        # SIGTERM cancels the drill as Ctrl-C does, so that it stops every process it started
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await run_drill(args.name, options)

    try:
        figs = asyncio.run(drill())
    except RuntimeError as exc:
        raise Failure(LOCAL, str(exc)) from exc
    except asyncio.CancelledError:
        raise Failure(LOCAL, "the drill was stopped before its end") from None
    print(dump(figs), flush=True)
    clean = all(figs[k] == 0 for k in ("acked_not_stored", "orders_doubled_at_banks", "orders_stuck"))
    print("drill passed" if clean else "drill failed: see the figures", file=sys.stderr)
    return 0 if clean else 1

"""``python -m bench``: stopay's paths and the ceiling of its stack, alternated in one run, each
figure printed with its ratio (docs/performance.md)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg

from bench import cpu, drain, floor, holds, load, trail, watch
from bench.sql import query
from stopay import logs
from stopay.cli.serve import loop_factory
from stopay.store import embedded

ROOT = Path(__file__).resolve().parents[1]


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument(
        "--dsn",
        default=os.environ.get("STOPAY_BENCH_DSN") or None,
        help="a PostgreSQL server whose role may create databases (STOPAY_BENCH_DSN); default: the embedded one",
    )
    p.add_argument("--rounds", type=positive, default=3, help="rounds of each side, alternated; medians are printed")
    p.add_argument("--requests", type=positive, default=3000, help="SubmitEntry calls per round")
    p.add_argument("--concurrency", type=positive, default=32, help="calls in flight")
    p.add_argument("--entries", type=positive, default=1000, help="seed-xue entries queued per dispatch round")
    p.add_argument("--batch", type=positive, default=64, help="dispatch batch size, for stopay and pgqueuer")
    p.add_argument("--bank-latency-ms", type=positive, default=40, help="simulated banks' latency, entry-to-hold")
    p.add_argument("--watch-streams", type=positive, default=1000, help="WatchCase streams opened at once")
    p.add_argument(
        "--watch-idle-streams", type=positive, default=2000, help="WatchCase streams open in all, for CPU and GetCase"
    )
    p.add_argument("--watch-cases", type=positive, default=100, help="cases the WatchCase streams spread over")
    p.add_argument("--watch-quiet-s", type=positive, default=60, help="seconds of quiet with the idle streams open")
    p.add_argument("--watch-gets", type=positive, default=500, help="GetCase calls, with and without the streams")
    p.add_argument("--trail-fan-out", type=positive, default=4, help="accounts each account of the trail pays on to")
    p.add_argument(
        "--trail-levels", type=positive, default=6, help="levels of the trail (6 with fan-out 4: 1,365 orders)"
    )
    p.add_argument(
        "--only",
        default="submit,dispatch,hold,trail,floor,watch",
        help="comma-separated parts to run: submit, dispatch, hold, trail, floor, watch",
    )
    return p.parse_args(argv)


def say(line: str) -> None:
    print(line, flush=True)


def machine_lines(pg: dict[str, str]) -> list[str]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ram = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    return [
        f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"machine: {os.cpu_count()} CPUs, {model or platform.processor()}, {ram} RAM",
        f"PostgreSQL {pg['server_version']}, synchronous_commit={pg['synchronous_commit']}, fsync={pg['fsync']}",
        f"Python {platform.python_version()}, event loop of both servers: {event_loop_name()}",
        load_line("at the start"),
    ]


def event_loop_name() -> str:
    """The loop stopay serve and the ceiling run on: STOPAY_EVENT_LOOP, else uvloop when installed."""
    factory = loop_factory(os.environ.get("STOPAY_EVENT_LOOP", "auto"))
    return "asyncio" if factory is None else "uvloop"


def load_line(when: str) -> str:
    """The machine's load average: other work on it skews every figure, the ratios less."""
    one, five, _ = os.getloadavg()
    return f"load average {when}: {one:.2f} (1 min), {five:.2f} (5 min)"


@contextlib.contextmanager
def embedded_server(workdir: Path) -> Iterator[str]:
    server, dsn = embedded.start(workdir / "pgdata")
    try:
        yield dsn
    finally:
        server.cleanup()


class Databases:
    """Fresh databases on one server, dropped at the end."""

    def __init__(self, server_dsn: str) -> None:
        self.server_dsn = server_dsn
        self._made: list[str] = []
        self.names: dict[str, str] = {}  # DSN -> database name

    async def new(self, label: str) -> str:
        name = f"stopay_bench_{os.getpid()}_{label}"
        admin = await asyncpg.connect(self.server_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        self._made.append(name)
        dsn = embedded.with_database(self.server_dsn, name)
        self.names[dsn] = name
        return dsn

    async def drop_all(self) -> None:
        admin = await asyncpg.connect(self.server_dsn)
        try:
            for name in self._made:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@contextlib.asynccontextmanager
async def process(name: str, argv: list[str], port_file: Path, log: Path) -> AsyncIterator[tuple[str, int]]:
    """Starts a server process that writes its port to ``port_file``; yields its address and pid."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with log.open("ab") as out:
        child = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text(encoding="utf-8").strip()):
            if child.poll() is not None:
                raise RuntimeError(f"{name} exited with status {child.returncode} (its log follows)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start in 60 s (its log follows)")
            await asyncio.sleep(0.05)
        yield f"127.0.0.1:{port_file.read_text(encoding='utf-8').strip()}", child.pid
    finally:
        child.terminate()
        try:
            await asyncio.to_thread(child.wait, 30)
        except subprocess.TimeoutExpired:
            child.kill()


def ratio_line(figure: str, stopay: str, other_name: str, other: str, ratio: float) -> str:
    return f"{figure}: stopay {stopay}, {other_name} {other}, ratio {ratio:.2f}"


async def submit_part(args: argparse.Namespace, dbs: Databases, workdir: Path) -> float:
    """Prints the SubmitEntry figures; returns the ceiling's median throughput."""
    ceiling_db, stopay_db = await dbs.new("ceiling"), await dbs.new("submit")
    log = workdir / "servers.log"
    ceiling_argv = [sys.executable, "-m", "bench.ceiling", "--dsn", ceiling_db, "--port-file", str(workdir / "c.port")]
    stopay_argv = [
        sys.executable,
        "-c",
        "import sys; from stopay.cli.main import main; sys.exit(main())",
        "serve",
        "--insecure",
        "--no-dispatcher",
        "--dsn",
        stopay_db,
        "--listen",
        "127.0.0.1:0",
        "--port-file",
        str(workdir / "s.port"),
    ]
    async with (
        process("the ceiling server", ceiling_argv, workdir / "c.port", log) as ceiling,
        process("stopay serve", stopay_argv, workdir / "s.port", log) as stopay,
    ):
        servers = {"ceiling": (*ceiling, dbs.names[ceiling_db]), "stopay": (*stopay, dbs.names[stopay_db])}
        warm = min(200, args.requests)
        for target, _, _ in servers.values():  # connections, pools and first-call paths warmed, not counted
            await load.drive(target, load.entries(warm), args.concurrency)
        runs: dict[str, list[load.Run]] = {"ceiling": [], "stopay": []}
        used: dict[str, list[cpu.Cpu]] = {"ceiling": [], "stopay": []}
        for r in range(1, args.rounds + 1):
            for name, (target, pid, database) in servers.items():
                requests = load.entries(args.requests)
                before = cpu.sample(pid, database)
                run = await load.drive(target, requests, args.concurrency)
                spent = cpu.spent(before, cpu.sample(pid, database))
                runs[name].append(run)
                used[name].append(spent)
                say(
                    f"  round {r} {name}: {run.throughput:.0f}/s, p50 {run.percentile_ms(0.5):.1f} ms, "
                    f"p99 {run.percentile_ms(0.99):.1f} ms, CPU per call: {cpu_text(spent, run.requests)}"
                )

    def med(name: str, figure: str) -> float:
        if figure == "throughput":
            return load.median([r.throughput for r in runs[name]])
        return load.median([r.percentile_ms(0.5 if figure == "p50" else 0.99) for r in runs[name]])

    label = f"SubmitEntry ({args.concurrency} in flight, median of {args.rounds})"
    s, c = med("stopay", "throughput"), med("ceiling", "throughput")
    say(ratio_line(f"{label} throughput", f"{s:.0f}/s", "ceiling", f"{c:.0f}/s", s / c))
    for q in ("p50", "p99"):
        s, c = med("stopay", q), med("ceiling", q)
        say(ratio_line(f"{label} {q}", f"{s:.1f} ms", "ceiling", f"{c:.1f} ms", s / c))
    per_call = {}
    for name in runs:
        pairs = list(zip(used[name], runs[name], strict=True))
        server = load.median([u.server_s * 1000 / r.requests for u, r in pairs])
        pg = [u.backends_s * 1000 / r.requests for u, r in pairs if u.backends_s is not None]
        per_call[name] = (server, load.median(pg) if len(pg) == len(runs[name]) else None)
    for part, index in (("server process", 0), ("PostgreSQL backends", 1)):
        s_ms, c_ms = per_call["stopay"][index], per_call["ceiling"][index]
        if s_ms is None or c_ms is None:
            say(f"{label} CPU per call, {part}: not visible from this machine")
            continue
        if c_ms <= 0:  # the kernel counts CPU time in ticks: a tiny run may show none
            say(f"{label} CPU per call, {part}: too few calls to measure")
            continue
        say(ratio_line(f"{label} CPU per call, {part}", f"{s_ms:.2f} ms", "ceiling", f"{c_ms:.2f} ms", s_ms / c_ms))
    return med("ceiling", "throughput")


def cpu_text(spent: cpu.Cpu, calls: int) -> str:
    server = f"server {spent.server_s * 1000 / calls:.2f} ms"
    if spent.backends_s is None:
        return server
    return f"{server} + PostgreSQL {spent.backends_s * 1000 / calls:.2f} ms"


async def amain(args: argparse.Namespace) -> int:
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    unknown = parts - {"submit", "dispatch", "hold", "trail", "floor", "watch"}
    if unknown:
        print(f"--only: unknown part(s) {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="stopay-bench-"))
    log_file = (workdir / "bench.log").open("a", encoding="utf-8")
    stderr, sys.stderr = sys.stderr, log_file
    try:  # the in-process stopay logs as a server does (info, JSON lines), to a file of the run
        logs.configure("info", json=True)
    finally:
        sys.stderr = stderr
    try:
        with contextlib.ExitStack() as stack:
            server_dsn = args.dsn or await asyncio.to_thread(lambda: stack.enter_context(embedded_server(workdir)))
            dbs = Databases(server_dsn)
            try:
                conn = await asyncpg.connect(server_dsn)
                try:
                    pg = dict(await conn.fetchrow(query("durability")))
                finally:
                    await conn.close()
                for line in machine_lines(pg):
                    say(line)
                if pg["synchronous_commit"] != "on":
                    say("warning: synchronous_commit is not on: these figures are not durable ones")
                ceiling = pgqueuer = None
                if "submit" in parts:
                    ceiling = await submit_part(args, dbs, workdir)
                if "dispatch" in parts:
                    pgqueuer = await drain.dispatch_part(args, dbs, workdir, say)
                if "hold" in parts:
                    await holds.hold_part(args, dbs, workdir, say)
                if "trail" in parts:
                    await trail.trail_part(args, dbs, workdir, say)
                if "floor" in parts:
                    await floor.floor_part(args, dbs, say, ceiling, pgqueuer)
                if "watch" in parts:
                    await watch.watch_part(args, dbs, workdir, say)
                say(load_line("at the end"))
            finally:
                await dbs.drop_all()
    except Exception:
        log_file.flush()
        show_logs(workdir)
        raise
    finally:
        log_file.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def show_logs(workdir: Path, lines: int = 40) -> None:
    """The last lines of the run's logs, on stderr, before the run's directory goes."""
    for name in ("servers.log", "bench.log"):
        path = workdir / name
        if path.exists():
            tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
            if tail:
                print(f"--- the last lines of {name}:", *tail, sep="\n", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
    try:
        return asyncio.run(amain(parse(argv)))
    except (OSError, asyncpg.PostgresError, RuntimeError) as exc:
        print(f"python -m bench: {exc}", file=sys.stderr)
        return 1

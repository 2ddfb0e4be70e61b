"""CPU time spent per call, split between a server process and the PostgreSQL backends serving its
database (visible only when PostgreSQL runs on this machine)."""

from __future__ import annotations

from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class Cpu:
    server_s: float
    backends_s: float | None  # None: no backend of the database is visible from here


def _seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def backends(database: str) -> list[psutil.Process]:
    """PostgreSQL's backends connected to ``database``, by their process titles
    ("postgres: USER DATABASE HOST(PORT) STATE", with the cluster's name after "postgres:" when
    it has one, as Debian's "postgres: 15/main: USER DATABASE ...")."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        words = " ".join(process.info["cmdline"] or ()).split()
        if len(words) > 1 and words[1].endswith(":"):
            del words[1]
        if len(words) > 2 and words[0] == "postgres:" and database in words[2:3]:
            found.append(process)
    return found


def sample(server_pid: int, database: str) -> Cpu:
    """The CPU seconds used so far by the server and by its database's backends (a backend that
    ends between two samples takes its seconds with it)."""
    procs = backends(database)
    total = 0.0
    for process in procs:
        try:
            total += _seconds(process)
        except psutil.Error:
            continue
    return Cpu(_seconds(psutil.Process(server_pid)), total if procs else None)


def spent(before: Cpu, after: Cpu) -> Cpu:
    backends_s = None
    if before.backends_s is not None and after.backends_s is not None:
        backends_s = after.backends_s - before.backends_s
    return Cpu(after.server_s - before.server_s, backends_s)

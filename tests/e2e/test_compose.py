"""The container set-up, run without Docker (no daemon here): compose.yaml's commands and the
Dockerfile's HEALTHCHECK, read from the files and run as processes on this machine against a real
PostgreSQL, with the containers' paths, host names and ports mapped to local ones. migrate applies
every migration and then none, bank-sim and serve --no-migrate start, the HEALTHCHECK command exits 0,
and the header's workflow (certificates, then an entry submitted over mutual TLS) holds money at the
simulated banks through the compose's adapter route."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from stopay.store import embedded
from stopay.store.migrate import migrations

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def dockerfile_lines() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments left out."""
    joined, current = [], ""
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            joined.append(current.strip())
            current = ""
    return joined


def healthcheck() -> list[str]:
    (line,) = [line for line in dockerfile_lines() if line.startswith("HEALTHCHECK ")]
    command = json.loads(line.split(" CMD ", 1)[1])
    assert isinstance(command, list)
    return [str(part) for part in command]


def image_env() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in dockerfile_lines():
        if line.startswith("ENV "):
            found.update(pair.split("=", 1) for pair in shlex.split(line[4:]))
    return found


def header_commands() -> list[list[str]]:
    """The `stopay ...` commands of compose.yaml's opening comment, as a shell would split them."""
    commands, current = [], ""
    for line in (ROOT / "compose.yaml").read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if not line.startswith("#   "):  # the commands are indented
            continue
        text = line[1:].split("  # ")[0].strip()
        if text.startswith("stopay ") or current:
            current += text.rstrip("\\").strip() + " "
            if not text.endswith("\\"):
                commands.append(shlex.split(current))
                current = ""
    return commands


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Local:
    """compose.yaml's services as local processes: container paths become the project's (a temporary
    directory with the pki the commands make and a link to stopay/), host names 127.0.0.1, ports free ones."""

    def __init__(self, project: Path, dsn: str) -> None:
        self.project = project
        self.dsn = dsn
        self.services = compose()["services"]
        self.ports = {"50051": str(free_port()), "50052": str(free_port())}
        self.mounts: dict[str, str] = {}
        for service in self.services.values():
            for volume in service.get("volumes", []):
                source, target = volume.split(":")[:2]
                if source.startswith("./"):
                    self.mounts[target] = str(project / source[2:])
        self.processes: list[subprocess.Popen[bytes]] = []

    def local(self, text: str) -> str:
        for target, source in self.mounts.items():
            text = text.replace(target, source)
        for name in self.services:
            text = re.sub(rf"\b{re.escape(name)}:(\d+)\b", r"127.0.0.1:\1", text)
        return re.sub(r":(5005[12])\b", lambda m: ":" + self.ports[m[1]], text)

    def env(self, service: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update({k: self.local(v) for k, v in image_env().items()})
        env.update({k: self.local(str(v)) for k, v in self.services[service].get("environment", {}).items()})
        env["STOPAY_DSN"] = self.dsn  # the compose's db service is the test's PostgreSQL
        return env

    def argv(self, command: list[str]) -> list[str]:
        # The image's ENTRYPOINT is `stopay`.
        return [sys.executable, "-m", "stopay.cli.main", *(self.local(part) for part in command)]

    def run(self, service: str, command: list[str] | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        command = command or self.services[service]["command"]
        return subprocess.run(
            self.argv(command),
            env={**self.env(service), **env},
            cwd=self.project,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def published(self) -> str:
        """The address the header's clients use: the port compose publishes on this machine."""
        (mapping,) = self.services["stopay"]["ports"]
        return f"127.0.0.1:{self.ports[mapping.split(':')[0]]}"

    def start(self, service: str) -> subprocess.Popen[bytes]:
        log = open(self.project / f"{service}.log", "ab")  # the child keeps its own copy
        process = subprocess.Popen(
            self.argv(self.services[service]["command"]),
            env=self.env(service),
            cwd=self.project,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.processes.append(process)
        return process

    def stop_all(self) -> list[int | None]:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        return [process.wait(timeout=30) for process in self.processes]


def wait_for(check: Any, what: str, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        time.sleep(0.2)


@pytest.fixture
def empty_dsn(server_dsn: str) -> Iterator[str]:
    """A database with no schema at all, as the compose's PostgreSQL starts."""
    import asyncio

    name = f"stopay_compose_{os.getpid()}_{time.monotonic_ns()}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(server_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield embedded.with_database(server_dsn, name)
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_the_image_installs_its_dependencies_before_its_source() -> None:
    lines = dockerfile_lines()
    first_source = next(i for i, line in enumerate(lines) if line.startswith("COPY stopay"))
    (deps,) = [i for i, line in enumerate(lines) if line.startswith("RUN") and "requirements.txt" in line]
    (package,) = [i for i, line in enumerate(lines) if line.startswith("RUN pip install") and "--no-deps ." in line]
    assert deps < first_source < package
    assert [line for line in lines if line.startswith("USER ")] == ["USER stopay"]
    # The RUN line's own program, run here, lists exactly pyproject's dependencies.
    program = re.search(r'python -c "(.*?)"', lines[deps])
    assert program
    listed = subprocess.run(
        [sys.executable, "-c", program[1]], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    import tomllib

    assert listed == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def test_the_compose_commands_run_stopay_with_postgresql_and_bank_sim(tmp_path: Path, empty_dsn: str) -> None:
    (tmp_path / "stopay").symlink_to(ROOT / "stopay")
    local = Local(tmp_path, empty_dsn)
    certs, entry = header_commands()[:-1], header_commands()[-1]
    for command in certs:
        assert command[0] == "stopay"
        made = subprocess.run(local.argv(command[1:]), cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert made.returncode == 0, made.stderr

    # serve --no-migrate refuses the empty database, naming the first migration it lacks.
    refused = local.run("stopay")
    assert refused.returncode == 2, refused.stderr
    assert "migration 0001_initial" in refused.stderr and "stopay migrate" in refused.stderr

    first = local.run("migrate")
    assert first.returncode == 0, first.stderr
    known = migrations()
    assert [line.split()[1] for line in first.stdout.splitlines()[:-1]] == [f"{m.version:04d}_{m.name}" for m in known]
    again = local.run("migrate")  # idempotent: nothing left to apply
    assert again.returncode == 0 and again.stdout.splitlines() == [
        f"schema up to date at {known[-1].version:04d} (0 applied now)"
    ]

    try:
        local.start("bank-sim")
        local.start("stopay")

        def healthy() -> bool:
            assert all(p.poll() is None for p in local.processes), (tmp_path / "stopay.log").read_text()[-2000:]
            probe = local.run("stopay", healthcheck()[1:])
            return probe.returncode == 0

        wait_for(healthy, "the HEALTHCHECK command exits 0")
        probe = local.run("stopay", healthcheck()[1:])
        assert probe.stdout.strip().endswith("SERVING")

        # The header's entry, over mutual TLS, without --watch: a hold at a simulated bank shows
        # that serve reaches bank-sim through the compose's adapter route.
        assert entry[0] == "stopay"
        client = {"STOPAY_SERVER": local.published()}
        submitted = local.run("stopay", [part for part in entry[1:] if part != "--watch"], **client)
        assert submitted.returncode == 0, submitted.stderr
        case_id = submitted.stdout.split()[1]  # "case ID accepted"
        show = [
            "case",
            "show",
            case_id,
            "--json",
            *entry[entry.index("--tls-ca") :],
        ]

        def held() -> int:
            shown = local.run("stopay", show, **client)
            assert shown.returncode == 0, shown.stderr
            return int(json.loads(shown.stdout)["held_minor"])

        assert wait_for(held, "money held at a simulated bank") > 0
    finally:
        codes = local.stop_all()
    assert codes == [0, 0]  # both stopped gracefully on SIGTERM, as `docker compose down` stops them
    down = local.run("stopay", healthcheck()[1:])
    assert down.returncode == 3, down.stderr

"""Project hygiene that can fail: generated code matches protos/, and the layers hold."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from stopay import codegen

ROOT = Path(__file__).resolve().parents[2]


def test_generated_code_is_up_to_date_with_the_protos(tmp_path: Path) -> None:
    fresh = {p.relative_to(tmp_path) for p in codegen.generate(tmp_path)}
    committed = {
        p.relative_to(ROOT)
        for d in codegen.generated_dirs()
        for p in (ROOT / d).iterdir()
        if p.suffix in {".py", ".pyi"} and p.name != "__init__.py"
    }
    assert fresh == committed, "run: python -m stopay.codegen"
    for path in sorted(fresh):
        assert (tmp_path / path).read_text() == (ROOT / path).read_text(), (
            f"{path} is stale: run python -m stopay.codegen"
        )


def test_layers_hold() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert lint, "import-linter is part of the test extra"
    result = subprocess.run(
        [lint, "--no-cache", "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_grpcio_floor_is_what_the_generated_code_needs() -> None:
    """The generated stubs refuse a grpcio older than the one that generated them: the floor in
    pyproject.toml must be at least that, for grpcio and its companion packages alike."""
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    floors = {}
    for requirement in project["dependencies"]:
        if m := re.fullmatch(r"(grpcio[a-z-]*)>=([\d.]+)", requirement):
            floors[m.group(1)] = tuple(int(p) for p in m.group(2).split("."))
    needed = set()
    for stub in [*ROOT.glob("stopay/v1/*_pb2_grpc.py"), *ROOT.glob("bank_adapters/remote/v1/*_pb2_grpc.py")]:
        found = re.search(r"GRPC_GENERATED_VERSION = '([\d.]+)'", stub.read_text(encoding="utf-8"))
        assert found, stub
        needed.add(tuple(int(p) for p in found.group(1).split(".")))
    assert set(floors) == {"grpcio", "grpcio-status", "grpcio-health-checking", "grpcio-reflection"}
    assert all(floor >= max(needed) for floor in floors.values()), (floors, needed)

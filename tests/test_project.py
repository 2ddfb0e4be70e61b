"""Project hygiene that can fail: generated code matches protos/, and the layers hold."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from stopay import codegen

ROOT = Path(__file__).resolve().parents[1]


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

"""Project hygiene that can fail: generated code matches protos/, and the layers hold."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from stopay import codegen

ROOT = Path(__file__).resolve().parents[1]


def test_generated_code_is_up_to_date_with_the_protos(tmp_path: Path) -> None:
    fresh = codegen.generate(tmp_path)
    names = sorted(p.name for p in fresh)
    committed = sorted(p.name for p in (ROOT / "stopay" / "v1").iterdir() if p.suffix in {".py", ".pyi"} and p.name != "__init__.py")
    assert names == committed, "run: python -m stopay.codegen"
    for path in fresh:
        assert path.read_text() == (ROOT / "stopay" / "v1" / path.name).read_text(), (
            f"stopay/v1/{path.name} is stale: run python -m stopay.codegen"
        )


def test_layers_hold() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert lint, "import-linter is part of the test extra"
    result = subprocess.run(
        [lint, "--no-cache", "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout

"""Regenerates the committed protobuf/gRPC code and its type stubs from ``protos/``.

Run ``python -m stopay.codegen`` from the project root after editing a ``.proto`` file; a test fails
while the committed code is stale. Needs the ``test`` extra (grpcio-tools, mypy-protobuf).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"


def proto_files() -> list[Path]:
    """Every proto under ``protos/``; each generates beside the Python package its path names
    (``protos/stopay/v1/x.proto`` -> ``stopay/v1/x_pb2.py``)."""
    return sorted(PROTO_ROOT.rglob("*.proto"))


def generated_dirs() -> list[Path]:
    return sorted({p.parent.relative_to(PROTO_ROOT) for p in proto_files()})


def generate(out_dir: Path) -> list[Path]:
    """Writes the generated modules for every proto under ``out_dir``; returns their paths."""
    import grpc_tools
    from grpc_tools import protoc

    plugin = shutil.which("protoc-gen-mypy", path=str(Path(sys.executable).parent))
    grpc_plugin = shutil.which("protoc-gen-mypy_grpc", path=str(Path(sys.executable).parent))
    if plugin is None or grpc_plugin is None:
        raise RuntimeError("mypy-protobuf is not installed: pip install '.[test]'")
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--plugin=protoc-gen-mypy={plugin}",
        f"--plugin=protoc-gen-mypy_grpc={grpc_plugin}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *(str(p.relative_to(PROTO_ROOT)) for p in proto_files()),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed: " + " ".join(args))
    return sorted(
        p
        for d in generated_dirs()
        for p in (out_dir / d).iterdir()
        if p.suffix in {".py", ".pyi"} and p.name != "__init__.py"
    )


if __name__ == "__main__":
    for path in generate(ROOT):
        print(path.relative_to(ROOT))

"""The documentation cites only what exists: every repository path in README.md and docs/*.md,
backticked (`stopay/store/sql/submit_entry.sql`, `store/trail.trail_transaction`) or linked
([holds](docs/holds.md#renewal)), names a file, directory, function or heading that is there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Paths written as they are outside the repository.
NOT_IN_THE_REPOSITORY = {
    "stopay/pgdata",  # the embedded PostgreSQL's directory, under the user data directory
}

TICKED = re.compile(r"`([^`\n]+)`")
LINKED = re.compile(r"\]\(([^)\s]+)\)")
PATH = re.compile(r"\.?[\w*-]+(?:/[\w.*-]+)+/?")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def _top_level() -> set[str]:
    return {p.name for p in ROOT.iterdir() if not p.name.startswith((".git", ".venv", ".pytest", ".import"))}


def _packages() -> set[str]:
    """Folders of stopay/, which the docs often cite without the stopay/ prefix (`store/sql/...`)."""
    return {p.name for p in (ROOT / "stopay").iterdir() if p.is_dir() and not p.name.startswith("__")}


def anchors(doc: Path) -> set[str]:
    """GitHub's anchors for the headings of ``doc``."""
    found = set()
    for line in FENCE.sub("", doc.read_text(encoding="utf-8")).splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


def _defines(module: Path, name: str) -> bool:
    text = module.read_text(encoding="utf-8")
    return (
        re.search(rf"^\s*(?:async\s+)?(?:def|class)\s+{re.escape(name)}\b|^{re.escape(name)}\s*[:=]", text, re.M)
        is not None
    )


def problem(path: str) -> str | None:
    """Why ``path`` (relative to the repository root) names nothing, or None when it does."""
    if "*" in path:
        return None if list(ROOT.glob(path)) else "matches no file"
    if (ROOT / path).exists():
        return None
    # `store/trail.trail_transaction`: a function or class of a module.
    folder, _, last = path.rpartition("/")
    module, dot, name = last.partition(".")
    source = ROOT / folder / f"{module}.py"
    if dot and source.is_file():
        return None if _defines(source, name) else f"{source.relative_to(ROOT)} defines no {name}"
    return "does not exist"


def ticked_paths() -> list[tuple[str, str, str]]:
    """``(doc, cited text, path from the root)`` for every backticked repository path."""
    top, packages = _top_level(), _packages()
    cited = []
    for doc in DOCS:
        name = str(doc.relative_to(ROOT))
        for match in TICKED.finditer(doc.read_text(encoding="utf-8")):
            tick = match.group(1)
            if not PATH.fullmatch(tick) or tick in NOT_IN_THE_REPOSITORY:
                continue
            first = tick.split("/")[0]
            if first in top:
                cited.append((name, tick, tick.rstrip("/")))
            elif first in packages:
                cited.append((name, tick, f"stopay/{tick}".rstrip("/")))
    return cited


def test_the_docs_cite_paths_at_all() -> None:
    # The extraction itself works: the docs do cite files, with and without the stopay/ prefix.
    paths = {path for _, _, path in ticked_paths()}
    assert {"bank_adapters/protocol.py", "stopay/store/sql/submit_entry.sql"} <= paths


def test_every_path_the_docs_cite_exists() -> None:
    missing = [f"{doc}: `{cited}` {why}" for doc, cited, path in ticked_paths() if (why := problem(path))]
    assert not missing, "\n".join(missing)


def test_every_link_leads_to_a_file_and_heading() -> None:
    missing = []
    for doc in DOCS:
        for match in LINKED.finditer(doc.read_text(encoding="utf-8")):
            target = match.group(1)
            if re.match(r"[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            where = (doc.parent / file).resolve() if file else doc
            if not where.exists():
                missing.append(f"{doc.relative_to(ROOT)}: ({target}) leads to no file")
            elif anchor and where.suffix == ".md" and anchor not in anchors(where):
                missing.append(f"{doc.relative_to(ROOT)}: ({target}) leads to no heading of {where.name}")
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize(
    "path",
    [
        "stopay/store/sql/nothing_here.sql",
        "docs/nothing.md",
        "stopay/store/trail.no_such_function",
        "protos/stopay/v1/*.nothing",
    ],
)
def test_a_missing_path_is_found(path: str) -> None:
    assert problem(path) is not None


@pytest.mark.parametrize(
    "path",
    [
        "stopay/store/sql/submit_entry.sql",
        "docs/holds.md",
        "bank_adapters/protocol.py",
        "stopay/store/trail.trail_transaction",
        "protos/stopay/v1/*.proto",
        "stopay/v1",
    ],
)
def test_a_present_path_is_accepted(path: str) -> None:
    assert problem(path) is None

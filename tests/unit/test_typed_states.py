"""No order kind, order status or hold state is compared as a bare string outside the enums' own
modules: Python compares the enums (stopay/domain/orders.py, stopay/domain/holds.py), and the SQL
files keep their own spelling under the guard triggers and agreement tests."""

from __future__ import annotations

import ast
from pathlib import Path

from stopay.domain.holds import HoldState
from stopay.domain.orders import OrderKind, OrderStatus

ROOT = Path(__file__).resolve().parents[2]
STATES = {member.value for enum in (OrderKind, OrderStatus, HoldState) for member in enum}
ENUM_MODULES = {"stopay/domain/orders.py", "stopay/domain/holds.py"}
# Words that are spelled like a state but mean something else there.
OTHER_MEANINGS = {
    ("stopay/cli/holds.py", "release"),  # the `stopay hold release` subcommand's name
}


def _strings(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [s for element in node.elts for s in _strings(element)]
    return []


def bare_comparisons(source: str) -> list[tuple[int, str]]:
    """(line, word) of every comparison with a string literal that names a state."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                found += [(node.lineno, word) for word in _strings(side) if word in STATES]
    return found


def test_the_check_sees_a_bare_state_in_any_spelling() -> None:
    source = 'a == "freeze"\nb in ("stopped", "frozen")\nc != OrderKind.FREEZE\nd is "queued"\n'
    assert bare_comparisons(source) == [(1, "freeze"), (2, "stopped"), (2, "frozen"), (4, "queued")]


def test_no_state_is_compared_as_a_bare_string() -> None:
    files = [*ROOT.glob("stopay/**/*.py"), *ROOT.glob("bank_adapters/**/*.py")]
    assert len(files) > 100
    bare = []
    for path in files:
        name = path.relative_to(ROOT).as_posix()
        if "_pb2" in path.name or name in ENUM_MODULES:
            continue
        bare += [
            f"{name}:{line}: {word!r}"
            for line, word in bare_comparisons(path.read_text(encoding="utf-8"))
            if (name, word) not in OTHER_MEANINGS
        ]
    assert bare == [], "compare the enums, not their spelling:\n" + "\n".join(bare)

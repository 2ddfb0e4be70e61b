"""The named-parameter form of the SQL files: ``:name`` becomes ``$n`` once, at load."""

from __future__ import annotations

from importlib.resources import files

import pytest

from stopay.store.queries import compile_named, query, source


def test_names_become_positions_in_order_of_first_use() -> None:
    q = compile_named("t", "SELECT :b, :a, :b::int, 'x :c', \"y :d\" -- :e\n/* :f */ , $$ :g $$")
    assert q.params == ("b", "a")
    assert q.text == "SELECT $1, $2, $1::int, 'x :c', \"y :d\" -- :e\n/* :f */ , $$ :g $$"


def test_a_cast_is_not_a_parameter() -> None:
    q = compile_named("t", "SELECT now()::timestamptz, :at::date")
    assert q.params == ("at",)
    assert q.text == "SELECT now()::timestamptz, $1::date"


def test_arguments_follow_the_names_whatever_order_they_come_in() -> None:
    q = compile_named("t", "SELECT :b, :a")
    assert q.args(a=1, b=2) == [2, 1]


def test_a_missing_or_unknown_name_is_named() -> None:
    q = compile_named("t", "SELECT :order_id, :actor")
    with pytest.raises(TypeError, match=r"t needs :actor"):
        q.args(order_id=1)
    with pytest.raises(TypeError, match=r"t takes no :acter"):
        q.args(order_id=1, actor="a", acter="b")


def test_mixing_the_two_forms_is_refused() -> None:
    with pytest.raises(ValueError, match="mixes"):
        compile_named("t", "SELECT $1, :a")


def test_a_string_starting_with_a_digit_is_not_a_positional_parameter() -> None:
    q = compile_named("t", "SELECT lpad(:n::text, 10, '0'), '1 :x'")
    assert q.params == ("n",)
    assert q.text == "SELECT lpad($1::text, 10, '0'), '1 :x'"


def test_every_sql_file_names_its_parameters() -> None:
    names = [path.name.removesuffix(".sql") for path in (files("stopay.store") / "sql").iterdir()]
    assert len(names) > 50
    for name in names:
        q = query(name)  # refuses a file that mixes $n with :name
        assert "$" not in q.params and all(f"${i + 1}" in q.text for i in range(len(q.params))), name
        # Written with :name only, never $n: with one more name added, a $n would be refused as mixing.
        assert compile_named(name, source(name) + "\n:probe").params[-1] == "probe", name

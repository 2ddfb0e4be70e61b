"""One vocabulary: the statuses, reasons and exits used in code are the ones in the ISO table."""

from __future__ import annotations

from pathlib import Path

from bank_adapters import iso20022
from bank_adapters.protocol import AnswerStatus, ExitKind
from stopay.domain.orders import GAVE_UP, NO_ADAPTER, REFUSED

ROOT = Path(__file__).resolve().parents[2]


def test_answer_statuses_are_exactly_the_camt029_ones() -> None:
    assert {s.value for s in AnswerStatus} == set(iso20022.STATUSES)


def test_exit_kinds_are_the_table_s() -> None:
    assert tuple(e.value for e in ExitKind) == iso20022.EXITS


def test_stopay_s_own_reasons_are_in_the_table() -> None:
    assert {GAVE_UP, NO_ADAPTER, REFUSED} <= set(iso20022.REASONS)
    assert "ISO" not in iso20022.describe("AC04") and "closed" in iso20022.describe("AC04")
    assert iso20022.describe("ZZ99") == "ZZ99"


def test_the_simulated_banks_only_use_codes_from_the_table() -> None:
    import re

    source = (ROOT / "bank_adapters" / "simulated" / "world.py").read_text(encoding="utf-8")
    used = set(re.findall(r'"([A-Z]{2}[0-9]{2}|NOOR|LEGL|ARDT)"', source))
    assert used and used <= set(iso20022.REASONS)


def test_docs_show_the_same_table() -> None:
    doc = (ROOT / "docs" / "banks.md").read_text(encoding="utf-8")
    for code in (*iso20022.STATUSES, *iso20022.REASONS):
        assert f"`{code}`" in doc, code

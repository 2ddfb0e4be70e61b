"""Bank adapters are found by name through the ``stopay.bank_adapters`` entry points."""

from __future__ import annotations

from pathlib import Path

import pytest

from bank_adapters import registry
from bank_adapters.protocol import BankAdapter
from bank_adapters.simulated import adapter as simulated

SEED_XUE = Path(__file__).resolve().parents[2] / "stopay" / "examples" / "seed-xue.json"


def test_simulated_is_registered_and_resolves_to_its_factory() -> None:
    assert "simulated" in registry.available()
    assert registry.load_factory("simulated") is simulated.create


def test_create_builds_a_working_adapter_from_options() -> None:
    banks = registry.create("simulated", {"network": str(SEED_XUE)})
    assert isinstance(banks, simulated.SimulatedBanks)
    assert isinstance(banks, BankAdapter)
    assert banks.bank_codes == frozenset({"CQRCB", "ICBC", "ABC", "CCB"})


def test_unknown_adapter_names_itself_and_lists_the_available() -> None:
    with pytest.raises(registry.UnknownAdapter) as caught:
        registry.load_factory("swift-gpi")
    error = caught.value
    assert isinstance(error, LookupError)
    assert error.name == "swift-gpi" and "simulated" in error.available
    assert "'swift-gpi'" in str(error) and "simulated" in str(error)
    with pytest.raises(registry.UnknownAdapter):
        registry.create("swift-gpi", {})

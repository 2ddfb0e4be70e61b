"""Find bank adapter factories by name through the entry-point group ``stopay.bank_adapters``."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from bank_adapters.protocol import AdapterFactory, BankAdapter

GROUP = "stopay.bank_adapters"


class UnknownAdapter(LookupError):
    """No installed package registers an adapter of this name."""

    def __init__(self, name: str, available: list[str]) -> None:
        self.name = name
        self.available = available
        listed = ", ".join(available) or "none"
        super().__init__(f"unknown bank adapter {name!r}; available: {listed}")


def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep)
    return found


def available() -> list[str]:
    """Names of the installed adapters, sorted."""
    return sorted(_entry_points())


def load_factory(name: str) -> AdapterFactory:
    """The factory registered under ``name``; raises :class:`UnknownAdapter` if there is none."""
    found = _entry_points()
    if name not in found:
        raise UnknownAdapter(name, sorted(found))
    factory = found[name].load()
    if not callable(factory):
        raise TypeError(f"bank adapter {name!r}: entry point {found[name].value} is not callable")
    return factory


def create(name: str, options: Mapping[str, Any]) -> BankAdapter:
    """Build the adapter ``name`` with its configuration ``options``."""
    return load_factory(name)(options)

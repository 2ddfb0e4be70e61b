"""What bank-sim was asked: every freeze request counted under its idempotency key, with the order
and the case it was for, so that a run can show no freeze reached a bank twice under two keys.

The simulated world answers a resend (same key) with its first answer and holds nothing more, so a
key is applied once however often it comes; an order sent under two keys would be applied twice.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from bank_adapters.protocol import FreezeRequest

__all__ = ["Tally", "read_tally"]


class Tally:
    """Freeze requests by idempotency key: how many came, and for which order, case and account."""

    def __init__(self) -> None:
        self._keys: dict[str, dict[str, Any]] = {}

    def freeze(self, request: FreezeRequest) -> None:
        seen = self._keys.get(request.idempotency_key)
        if seen is None:
            self._keys[request.idempotency_key] = {
                "requests": 1,
                "order_id": request.order_id,
                "case_id": request.case_id,
                "account": request.account.id,
            }
        else:
            seen["requests"] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "freeze_requests": sum(k["requests"] for k in self._keys.values()),
            "keys": {key: dict(value) for key, value in self._keys.items()},
        }

    def write(self, path: Path) -> None:
        """Writes :meth:`as_dict` as JSON to ``path``, replacing it whole (a reader never sees half)."""
        part = path.with_name(f".{path.name}.{os.getpid()}.part")
        part.write_text(json.dumps(self.as_dict()), encoding="utf-8")
        part.replace(path)


def read_tally(path: Path) -> dict[str, Any]:
    """The tally a bank-sim wrote to ``path``."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data

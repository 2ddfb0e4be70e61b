"""The one-line summaries people read of a case's events: an entry queues a freeze order and, beside
it, the emergency stop that asks the bank to freeze at once; the two read differently."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from stopay.api.convert import _summary
from stopay.domain.case import CaseEvent


def event(event_kind: str, **detail: object) -> CaseEvent:
    return CaseEvent(1, datetime(2026, 1, 1, tzinfo=UTC), "officer:1", event_kind, uuid.uuid4(), dict(detail))


def test_a_stop_and_its_freeze_order_read_differently() -> None:
    freeze = _summary(event("order.queued", bank_code="ICBC", requested_minor=58_000_000), "CNY")
    stop = _summary(event("order.queued", bank_code="ICBC", requested_minor=58_000_000, kind="stop"), "CNY")
    assert freeze == "freeze request queued for ICBC, ¥580,000.00 requested"
    assert stop == "emergency stop queued for ICBC, ¥580,000.00 to freeze at once"

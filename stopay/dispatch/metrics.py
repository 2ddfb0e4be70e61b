"""The metrics of the work behind the API (serve --metrics-listen; docs/operations.md#metrics).

:class:`BankMetrics` is told by the dispatcher of every bank call and of each case's first hold it
records (and by the bank callbacks of the first holds they record). :class:`Gauges` reads the
queues from the database when scraped, without locks: at most once every ``refresh_s`` seconds
what indexes answer (store/sql/metrics_unresolved_orders.sql and metrics_waiting.sql), at most once
every ``settled_s`` seconds the settled orders, one pass over the orders
(metrics_settled_orders.sql). It shows them with the state of each bank's circuit breaker and the
audit chain verifications run by this process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import asyncpg
import structlog
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from stopay.dispatch.banks import BreakerState
from stopay.domain.clock import SYSTEM_CLOCK, Clock
from stopay.domain.orders import OrderStatus
from stopay.service.audit import Audit
from stopay.store import metrics as store
from stopay.store.errors import StoreError

log = structlog.get_logger(__name__)

BANK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
FIRST_HOLD_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
EXPIRING_WITHIN_S = 24 * 3600.0


class BankMetrics:
    """The dispatcher's observer (dispatch/dispatcher.DispatchObserver)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._calls = Histogram(
            "stopay_bank_call_duration_seconds",
            "How long a bank took to answer a request, by bank, request kind and outcome",
            ["bank", "request", "outcome"],
            buckets=BANK_BUCKETS,
            registry=registry,
        )
        self._first_hold = Histogram(
            "stopay_entry_to_first_hold_seconds",
            "From a case's entry (its commit) to the commit of its first hold, observed by the process that "
            "records the hold",
            buckets=FIRST_HOLD_BUCKETS,
            registry=registry,
        )

    def bank_call(self, bank_code: str, request: str, outcome: str, seconds: float) -> None:
        self._calls.labels(bank_code, request, outcome).observe(max(0.0, seconds))

    def first_hold(self, seconds: float) -> None:
        self._first_hold.observe(seconds)


class Gauges(Collector):
    def __init__(
        self,
        registry: CollectorRegistry,
        pool: asyncpg.Pool,
        audit: Audit,
        breakers: Callable[[], dict[str, BreakerState]] | None,
        refresh_s: float = 5.0,
        settled_s: float = 60.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """``breakers`` None: this process has no dispatcher, so no breakers to show."""
        self._pool = pool
        self._audit = audit
        self._breakers = breakers
        self._refresh_s = refresh_s
        self._settled_s = settled_s
        self._clock = clock
        self._read: store.Waiting | None = None
        self._read_at: float | None = None
        self._settled: dict[tuple[str, str], int] | None = None
        self._settled_at: float | None = None
        self._ok = False
        self._lock = asyncio.Lock()
        registry.register(self)

    async def refresh(self) -> None:
        """Reads the queues again unless they were read less than ``refresh_s`` ago, and the settled
        orders unless less than ``settled_s`` ago; scrapes at once share one read. A failed read
        keeps the last values and shows stopay_gauges_read_ok 0."""
        async with self._lock:
            now = self._clock.monotonic()
            if self._read_at is not None and now - self._read_at < self._refresh_s:
                return
            try:
                if self._settled_at is None or now - self._settled_at >= self._settled_s:
                    self._settled = await store.settled_orders(self._pool)
                    self._settled_at = now
                self._read = await store.waiting(self._pool, EXPIRING_WITHIN_S)
                self._ok = True
            except StoreError as exc:
                self._ok = False
                log.warning("metrics.read_failed", error=str(exc))
            self._read_at = self._clock.monotonic()

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "stopay_gauges_read_ok", "1 when the last read of the queues from the database succeeded", value=self._ok
        )
        read, settled = self._read, self._settled
        if read is not None and settled is not None:
            yield from _queues(read, settled)
        if self._breakers is not None:
            state = GaugeMetricFamily(
                "stopay_bank_breaker_state",
                "Each bank's circuit breaker in this process: 0 closed, 1 open, 2 half-open (its one trial due or out)",
                labels=["bank"],
            )
            for bank, value in self._breakers().items():
                state.add_metric([bank], int(value))
            yield state
        yield CounterMetricFamily(
            "stopay_chain_verifications",
            "Audit chain verifications run by this process (VerifyLog)",
            value=self._audit.verifications,
        )
        yield CounterMetricFamily(
            "stopay_chain_verification_failures",
            "Audit chain verifications run by this process that found a chain broken or a checkpoint wrong",
            value=self._audit.verify_failures,
        )


def _queues(read: store.Waiting, settled: dict[tuple[str, str], int]) -> Iterator[Metric]:
    orders = GaugeMetricFamily(
        "stopay_orders",
        "Orders by status and bank: the unresolved ones as of the last read, the settled ones of up to a minute before",
        labels=["status", "bank"],
    )
    # The settled ones are read first: the sum is short of the orders settled since (up to a minute),
    # and no order counts twice, as a settled order never changes again.
    by_status = {**settled, **read.unresolved_orders}
    for (status, bank), count in sorted(by_status.items()):
        orders.add_metric([status, bank], count)
    yield orders
    yield GaugeMetricFamily(
        "stopay_due_orders", "Open orders whose bank request is due now and not leased", value=read.due_orders
    )
    yield GaugeMetricFamily(
        "stopay_oldest_due_order_age_seconds",
        "How long the oldest due order has been due (0 when none is)",
        value=read.oldest_due_s,
    )
    yield GaugeMetricFamily(
        "stopay_holds_expiring_24h",
        "Live holds (stopped or frozen) expiring within 24 hours, or past expiry and not yet lapsed",
        value=read.holds_expiring,
    )
    yield GaugeMetricFamily("stopay_objections_open", "Objections waiting for a decision", value=read.objections_open)
    yield GaugeMetricFamily(
        "stopay_objections_overdue", "Objections waiting past their due time", value=read.objections_overdue
    )
    yield GaugeMetricFamily(
        "stopay_reviews_waiting",
        "Freezes waiting for a supervisor's review (orders in status awaiting_review)",
        value=sum(n for (status, _), n in read.unresolved_orders.items() if status == OrderStatus.AWAITING_REVIEW),
    )
    yield GaugeMetricFamily(
        "stopay_case_reviews_waiting",
        "Cases whose review of large freezes awaits a supervisor's decision",
        value=read.case_reviews_waiting,
    )

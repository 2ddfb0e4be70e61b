"""The dispatcher: claims due freeze orders in batches, sends each to its bank, records in batches.

Cooperating loops share one queue: the claimer takes up to ``batch_size`` due orders at a time
(woken by LISTEN/NOTIFY, polling as a fallback) while fewer than ``max_in_flight`` are out; one task
per order sends it through the adapter of its bank; the recorder writes every outcome that has come
back since its last write in one statement; a lease keeper extends the leases of orders in flight,
so only a dead owner's orders fall due again. A slow bank delays only its own orders.

Replicas on one database may serve different banks. Each registers the banks its adapters serve and
keeps the registration alive with the leases (store/replicas.py); it claims only those banks'
orders, and gives up a freeze order still asking for its statement (NOAD) only when no live replica
serves its bank.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
import structlog
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from bank_adapters.protocol import (
    BankAdapter,
    BankRefused,
    BankUnavailable,
    ExtendAnswer,
    FreezeAnswer,
    ReleaseAnswer,
    ReturnAnswer,
    StatementAnswer,
)
from stopay.dispatch.banks import BankGuards, BankOpen, BreakerState
from stopay.domain.accounts import AccountKey
from stopay.domain.backoff import full_jitter_s
from stopay.domain.clock import SYSTEM_CLOCK, Clock
from stopay.domain.holds import HoldPolicy
from stopay.domain.orders import (
    GAVE_UP,
    NO_ADAPTER,
    REFUSED,
    BankRequest,
    OrderKind,
    OrderStatus,
    UnknownAnswer,
    asks_statement,
    bank_request,
)
from stopay.domain.trail import Limits
from stopay.service.answers.apply import DEFAULT_CAPS, DEFAULT_POLICY, Answer, Settled, Traced, apply_answers
from stopay.service.answers.checked import checked_answer, printable
from stopay.service.answers.translate import (
    extend_outcome,
    extend_request,
    freeze_outcome,
    freeze_request,
    release_outcome,
    release_request,
    return_outcome,
    return_request,
    statement_request,
)
from stopay.store import orders as store
from stopay.store import replicas
from stopay.store.errors import StoreError, StoreUnavailable
from stopay.store.notifications import Notifications

log = structlog.get_logger(__name__)

BankReply = StatementAnswer | FreezeAnswer | ReleaseAnswer | ExtendAnswer | ReturnAnswer


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    batch_size: int = 64
    max_in_flight: int = 512
    lease_s: float = 15.0
    poll_s: float = 1.0
    send_timeout_s: float = 10.0
    retry_base_s: float = 0.5
    retry_cap_s: float = 60.0
    # An order no bank answered within this long after it was created is given up (NOAS) and
    # shows as undeliverable; an operator can retry it. Pending orders are never given up.
    delivery_deadline_s: float = 3600.0
    # How long to wait before asking again about an order a bank answered "pending".
    pending_recheck_s: float = 30.0
    # Per bank: failures in a row that open its breaker, how long it stays open, requests at once.
    breaker_threshold: int = 5
    breaker_open_s: float = 10.0
    bank_concurrency: int = 64
    # How often the sweeper looks for holds to lapse, warn of, or pay back (dispatch/sweeper.py).
    sweep_s: float = 30.0


class DispatchObserver(Protocol):
    """What the dispatcher tells the metrics (dispatch/metrics.py)."""

    def bank_call(self, bank_code: str, request: str, outcome: str, seconds: float) -> None:
        """One request to a bank: ``request`` a :class:`BankRequest` value, ``outcome`` answered,
        refused, unavailable, timeout or error."""
        ...

    def first_hold(self, seconds: float) -> None:
        """A case's first hold, ``seconds`` after its entry."""
        ...


class Dispatcher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        adapters: Mapping[str, BankAdapter],
        notifications: Notifications,
        owner: str,
        settings: DispatchSettings = DispatchSettings(),
        clock: Clock = SYSTEM_CLOCK,
        limits: Limits = DEFAULT_CAPS,
        policy: HoldPolicy = DEFAULT_POLICY,
        observer: DispatchObserver | None = None,
    ) -> None:
        self._pool = pool
        self._clock = clock
        # Told of every bank call and of each case's first hold it records (the metrics); None: nobody.
        self._observer = observer
        self._policy = policy  # how long holds last; the first money held starts an emergency stop
        self._limits = limits  # its max_orders and max_fanout bound the orders a statement opens
        self._adapters = adapters
        self._notifications = notifications
        self._owner = owner
        self._actor = f"dispatcher@{owner}"  # who, in the case's event log
        self._settings = settings
        self._results: asyncio.Queue[Answer | store.Retry] = asyncio.Queue()
        self._in_flight: set[asyncio.Task[None]] = set()
        # Claims not yet recorded, as (case_id, order_id, attempts): their leases are kept alive,
        # and only theirs; they also count against max_in_flight until recorded.
        self._leased: set[store.Claim] = set()
        self._room = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        # How many times it has asked the database for work: a sign of life, and a way to know that
        # it has looked again since some moment.
        self.claim_rounds = 0
        # Whether the last try to keep the leases alive failed (the database was away): they may
        # have run out meanwhile, so they are extended before anything is claimed again.
        self._leases_behind = False
        # Batches the recorder could not write yet because the database was away; kept, not dropped.
        self.record_postponed = 0
        self._guards = BankGuards(settings.breaker_threshold, settings.breaker_open_s, settings.bank_concurrency, clock)

    async def start(self) -> None:
        """Registers the banks this replica serves (before any claim), then starts the loops; a
        stopped dispatcher may be started again."""
        self._stopping = False
        await self._register()
        self._tasks = [
            asyncio.create_task(self._claim_loop(), name="stopay-claim"),
            asyncio.create_task(self._record_loop(), name="stopay-record"),
            asyncio.create_task(self._lease_loop(), name="stopay-leases"),
        ]

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stops claiming, lets sends in flight finish for ``grace_s`` and records their outcomes.

        Orders not recorded by then keep their lease, which expires; another replica (or this one
        after a restart) delivers them again with the same idempotency key.
        """
        if not self._tasks:  # never started (the app failed before it)
            return
        claim, record, leases = self._tasks
        # The flag as well as the cancel: a cancel that lands as the claimer's wait_for wakes is lost
        # on Python 3.11, and the claimer would run on; it checks the flag at every turn.
        self._stopping = True
        self._room.set()
        claim.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await claim
        if self._in_flight:
            await asyncio.wait(list(self._in_flight), timeout=grace_s)
        # The database may be away: the recorder keeps what it could not write only until then.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._results.join(), grace_s)
        for task in (record, leases):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for task in list(self._in_flight):
            task.cancel()
        with contextlib.suppress(StoreError):  # else the registration lapses by itself
            await replicas.lapse(self._pool, self._owner)

    async def _register(self) -> None:
        # Alive for two lease times: a heartbeat goes every third of one, so a few may fail first.
        s = self._settings
        await replicas.register(self._pool, self._owner, list(self._adapters), 2 * s.lease_s, s.delivery_deadline_s)

    async def _give_up_unserved(self) -> None:
        """Settles freeze orders still asking for their statement whose bank no live replica serves."""
        s = self._settings
        try:
            given_up = await replicas.give_up_unserved(
                self._pool, s.batch_size, s.delivery_deadline_s, NO_ADAPTER, self._actor
            )
        except StoreError as exc:
            log.warning("dispatch.give_up_failed", error=str(exc))
            return
        for _, order_id, bank_code in given_up:
            log.warning("dispatch.no_adapter", order_id=str(order_id), bank_code=bank_code)

    async def _claim_loop(self) -> None:
        s = self._settings
        loop = asyncio.get_running_loop()
        given_up_at = -s.poll_s
        with self._notifications.orders() as woken:
            while not self._stopping:
                room = s.max_in_flight - len(self._leased)
                if room <= 0:
                    self._room.clear()
                    await self._room.wait()
                    continue
                woken.clear()
                if self._leases_behind:
                    # Back from an outage: keep this replica's claims before claiming, or it would
                    # take its own orders again, their leases run out, and ask their banks twice.
                    await self._keep_leases()
                try:
                    claimed = await store.claim(
                        self._pool,
                        self._owner,
                        min(s.batch_size, room),
                        s.lease_s,
                        s.delivery_deadline_s,
                        await self._guards.open_banks(),
                        list(self._adapters),
                    )
                except StoreError as exc:
                    log.warning("dispatch.claim_failed", error=str(exc))
                    self._leases_behind = bool(self._leased)
                    claimed = []
                self.claim_rounds += 1
                if loop.time() - given_up_at >= s.poll_s:
                    given_up_at = loop.time()
                    await self._give_up_unserved()
                for order in claimed:
                    task = asyncio.create_task(self._deliver(order))
                    self._in_flight.add(task)
                    self._leased.add(store.Claim(order.case_id, order.order_id, order.attempts))
                    task.add_done_callback(self._done)
                if len(claimed) < min(s.batch_size, room):
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(woken.wait(), s.poll_s)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._room.set()

    async def _deliver(self, order: store.ClaimedOrder) -> None:
        self._results.put_nowait(await self._send(order))

    async def _send(self, order: store.ClaimedOrder) -> Answer | store.Retry:
        account = AccountKey(order.bank_code, order.account_number).masked
        adapter = self._adapters.get(order.bank_code)
        if adapter is None:  # cannot happen: a replica claims only the orders of the banks it serves
            return self._retry_later(order, f"no adapter serves bank {order.bank_code} here")
        timeout = self._settings.send_timeout_s
        result: Answer
        try:
            # Only the bank's availability passes through the breaker; making sense of its answer
            # happens after, so a nonsensical answer neither counts as a failure nor as a success.
            request = bank_request(order.kind, order.status)
            async with self._guards.call(order.bank_code):
                reply = await self._ask(adapter, request, order, timeout)
            reply = checked_answer(reply)  # as it can be recorded: no NUL, nothing out of range
            if request is BankRequest.STATEMENT:
                result = Traced(order, reply)  # type: ignore[arg-type]
            elif request is BankRequest.FREEZE:
                result = Settled(order, freeze_outcome(order, reply, self._settings.pending_recheck_s))  # type: ignore[arg-type]
            else:
                result = Settled(order, _SETTLE[order.kind](order, reply))
        except asyncio.CancelledError:
            raise
        except BankOpen:
            return self._retry(order, f"bank {order.bank_code} is failing; its circuit breaker is open", quick=True)
        except BankRefused as exc:
            # The bank refused the request itself (INVALID_ARGUMENT, say): sending it again will not
            # help. The order shows as undeliverable with the bank's words; an operator can retry it.
            # A status query of a pending freeze is not given up so: the bank is still deciding.
            log.error("dispatch.refused", order_id=str(order.order_id), account=account, error=str(exc))
            if order.status is OrderStatus.PENDING:
                return self._retry_later(order, f"the bank refused the status query: {exc}")
            return Settled(
                order,
                store.Outcome(
                    order.case_id,
                    order.order_id,
                    OrderStatus.UNDELIVERABLE,
                    reason_code=REFUSED,
                    detail=f"the bank refused the request: {exc}",
                ),
            )
        except UnknownAnswer as exc:
            return self._retry(order, f"bank answer not understood: {exc}")
        except TimeoutError:
            return self._retry(order, f"no answer within {self._settings.send_timeout_s:g}s")
        except Exception as exc:  # an adapter failure of any kind must not lose the order
            return self._retry(order, f"{type(exc).__name__}: {exc}")
        # One line per answer at debug only: at info, the recorder's one line per batch tells what
        # came back, and the case's events tell every answer, order by order.
        if isinstance(result, Traced):
            log.debug(
                "dispatch.statement",
                order_id=str(order.order_id),
                account=account,
                status=result.answer.status.value,
                reason_code=result.answer.reason_code,
            )
        else:
            log.debug(
                "dispatch.answered",
                order_id=str(order.order_id),
                account=account,
                kind=order.kind.value,
                status=result.outcome.status.value,
                held_minor=result.outcome.held_minor,
                released_minor=result.outcome.released_minor,
                reason_code=result.outcome.reason_code,
            )
        return result

    async def _ask(
        self, adapter: BankAdapter, request: BankRequest, order: store.ClaimedOrder, timeout: float
    ) -> BankReply:
        """Sends the order's request to its bank; the observer is told how long the bank took and how
        the call ended."""
        ask: Awaitable[BankReply]
        if request is BankRequest.STATEMENT:
            ask = adapter.statement(statement_request(order))
        elif request is BankRequest.FREEZE:  # sent again, it is the status query of a pending one
            ask = adapter.freeze(freeze_request(order))
        elif request is BankRequest.RELEASE:
            ask = adapter.release(release_request(order))
        elif request is BankRequest.EXTEND:
            ask = adapter.extend(extend_request(order))
        else:
            ask = adapter.return_funds(return_request(order))
        if self._observer is None:
            return await asyncio.wait_for(ask, timeout)
        began = self._clock.monotonic()
        outcome = "error"
        try:
            reply: BankReply = await asyncio.wait_for(ask, timeout)
            outcome = "answered"
            return reply
        except BankRefused:
            outcome = "refused"
            raise
        except BankUnavailable:
            outcome = "unavailable"
            raise
        except TimeoutError:
            outcome = "timeout"
            raise
        except asyncio.CancelledError:
            outcome = ""  # cut short by a stop here, not by the bank: not counted
            raise
        finally:
            if outcome:
                self._observer.bank_call(order.bank_code, request.value, outcome, self._clock.monotonic() - began)

    def breakers(self) -> dict[str, BreakerState]:
        """The state of the circuit breaker of every bank this replica serves."""
        states = self._guards.states()
        return {code: states.get(code, BreakerState.CLOSED) for code in sorted(self._adapters)}

    def _retry(self, order: store.ClaimedOrder, detail: str, quick: bool = False) -> store.Retry | Settled:
        # Only an order that cannot have moved money is given up at the deadline: a freeze that
        # timed out, or a release, may have been applied by the bank, and is asked again forever
        # under the same key (its answer, or a callback, then settles it).
        if order.expired and asks_statement(order.kind, order.status) and not quick:
            return self._give_up(order, detail)
        return self._retry_later(order, detail, quick)

    @staticmethod
    def _give_up(order: store.ClaimedOrder, detail: str) -> Settled:
        log.error("dispatch.gave_up", order_id=str(order.order_id), attempts=order.attempts, detail=detail)
        return Settled(
            order,
            store.Outcome(
                order.case_id,
                order.order_id,
                OrderStatus.UNDELIVERABLE,
                reason_code=GAVE_UP,
                detail=printable(f"no answer before the delivery deadline; last: {detail}", 1000),
            ),
        )

    def _retry_later(self, order: store.ClaimedOrder, detail: str, quick: bool = False) -> store.Retry:
        delay = self._backoff(order.attempts)
        if quick:
            delay = min(delay, self._settings.breaker_open_s)
        retry = store.Retry(order.case_id, order.order_id, order.attempts, delay, detail)
        log.warning(
            "dispatch.retry",
            order_id=str(order.order_id),
            attempts=order.attempts,
            delay_s=round(retry.delay_s, 3),
            detail=detail,
        )
        return retry

    def _backoff(self, attempts: int) -> float:
        return full_jitter_s(attempts, self._settings.retry_base_s, self._settings.retry_cap_s)

    async def _lease_loop(self) -> None:
        """Extends the leases of orders claimed and not yet recorded, and the replica's registration,
        every third of the lease time; every poll while the database is away, so that the claims
        are kept the moment it is back."""
        s = self._settings
        while True:
            await asyncio.sleep(s.poll_s if self._leases_behind else s.lease_s / 3)
            try:
                await self._register()
            except StoreError as exc:
                log.warning("dispatch.heartbeat_failed", error=str(exc))
            await self._keep_leases()

    async def _keep_leases(self) -> None:
        """Extends the leases of the claims not yet recorded. A lease that ran out while the
        database was away is kept too, unless another replica claimed the order meanwhile."""
        if not self._leased:
            self._leases_behind = False
            return
        try:
            await store.extend_leases(self._pool, self._owner, self._settings.lease_s, list(self._leased))
        except StoreError as exc:
            # Once at warning: tried every poll while the database is away, the rest at debug.
            (log.debug if self._leases_behind else log.warning)("dispatch.lease_extension_failed", error=str(exc))
            self._leases_behind = True
        else:
            self._leases_behind = False

    async def _record_loop(self) -> None:
        while True:
            batch = [await self._results.get()]
            while not self._results.empty() and len(batch) < 4 * self._settings.batch_size:
                batch.append(self._results.get_nowait())
            try:
                await self._record_kept(_Unrecorded.of(batch))
            except Exception:  # the recorder must outlive any one batch
                # Whatever was not written keeps its lease until it runs out; the orders are then
                # delivered again under the same idempotency keys.
                log.exception("dispatch.record_failed", orders=len(batch))
            finally:
                for item in batch:
                    self._leased.discard(_claim_of(item))
                    self._results.task_done()
                self._room.set()  # recorded claims no longer count against max_in_flight

    async def _record_kept(self, work: _Unrecorded) -> None:
        """Writes the batch, however long the database is away. Its claims stay leased meanwhile
        and the lease keeper keeps them alive, so a bank's answer received during an outage is
        recorded once the database is back instead of asked of the bank again. Only the claims
        another replica took over meanwhile are not applied (their answers change nothing, and
        the bank answers that replica's request from its idempotency key)."""
        failures = 0
        while True:
            try:
                await self._record(work)
                return
            except StoreUnavailable as exc:
                failures += 1
                self.record_postponed += 1
                log.warning(
                    "dispatch.record_postponed",
                    answers=len(work.to_apply),
                    retries=len(work.retries),
                    tries=failures,
                    error=str(exc),
                )
                await asyncio.sleep(full_jitter_s(failures, 0.2, 2.0))

    async def _record(self, work: _Unrecorded) -> None:
        """Writes what is left of ``work``, taking off each part as it is written: tried again after
        a StoreUnavailable, it neither applies an answer twice nor loses a retry."""
        began = asyncio.get_running_loop().time()
        answers = work.answers
        if work.to_apply:
            try:
                work.retries += await self._transient(
                    apply_answers,
                    self._pool,
                    self._owner,
                    work.to_apply,
                    self._backoff,
                    self._actor,
                    self._policy,
                    self._limits,
                    self._first_hold,
                )
                work.to_apply = []
            except StoreUnavailable:
                raise
            except StoreError as exc:
                # One answer the database refuses must not hold back the others: apply them one by
                # one, and give the refused ones back with backoff.
                log.error("dispatch.batch_refused", error=str(exc), answers=len(work.to_apply))
                for answer in list(work.to_apply):
                    try:
                        work.retries += await self._transient(
                            apply_answers,
                            self._pool,
                            self._owner,
                            [answer],
                            self._backoff,
                            self._actor,
                            self._policy,
                            self._limits,
                            self._first_hold,
                        )
                    except StoreUnavailable:
                        raise
                    except StoreError as one:
                        work.retries.append(self._retry_later(answer.order, f"answer could not be recorded: {one}"))
                    work.to_apply.remove(answer)
        if answers and not work.given_up:
            work.retries = await self._give_up_expired(answers, work.retries)
            work.given_up = True
        retries, failed = work.retries, work.unanswered
        if retries:
            await self._transient(store.reschedule, self._pool, self._owner, retries, self._actor)
            work.retries = []
        log.info(
            "dispatch.recorded",
            answers=len(answers),
            # statements by the bank's status; other answers by the status the order took
            outcomes=dict(Counter(_outcome_of(a) for a in answers)),
            retries=len(retries),
            unanswered=failed,
            ms=round((asyncio.get_running_loop().time() - began) * 1000, 1),
        )

    @property
    def _first_hold(self) -> Callable[[float], None] | None:
        return self._observer.first_hold if self._observer else None

    async def _give_up_expired(self, answers: list[Answer], retries: list[store.Retry]) -> list[store.Retry]:
        """An answer that could not be recorded or applied is asked again, but, like a failed
        delivery, not past the deadline of an order still asking for its statement: such orders are
        given up (NOAS) instead; the others' retries are returned."""
        answered = {a.order.order_id: a.order for a in answers}
        expired = [
            r
            for r in retries
            if (order := answered.get(r.order_id)) and order.expired and asks_statement(order.kind, order.status)
        ]
        if not expired:
            return retries
        gave_up = [self._give_up(answered[r.order_id], r.detail) for r in expired]
        try:
            await self._transient(
                apply_answers,
                self._pool,
                self._owner,
                gave_up,
                self._backoff,
                self._actor,
                self._policy,
                self._limits,
            )
        except StoreUnavailable:
            raise
        except StoreError as exc:
            log.error("dispatch.give_up_refused", error=str(exc), orders=len(gave_up))
            return retries
        return [r for r in retries if r not in expired]

    @staticmethod
    async def _transient(call: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Runs one write transaction, again with backoff while the database is unavailable or a
        concurrent transaction got in the way (nothing was applied then). A few tries only: the
        recorder keeps what is still unwritten after them and tries again (_record_kept)."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(StoreUnavailable),
            wait=wait_random_exponential(multiplier=0.1, max=1),
            stop=stop_after_attempt(5),
            reraise=True,
        ):
            with attempt:
                return await call(*args)


@dataclass(slots=True)
class _Unrecorded:
    """A batch of the recorder and what of it is still to be written."""

    answers: list[Answer]  # every answer of the batch
    to_apply: list[Answer]  # those not applied yet
    retries: list[store.Retry]  # orders to ask again, not rescheduled yet
    unanswered: int  # sends that got no answer
    given_up: bool = False  # the answers past their deadline were given up

    @classmethod
    def of(cls, batch: list[Answer | store.Retry]) -> _Unrecorded:
        answers = [r for r in batch if isinstance(r, Traced | Settled)]
        retries = [r for r in batch if isinstance(r, store.Retry)]
        return cls(answers, list(answers), retries, len(retries))


_SETTLE: dict[OrderKind, Callable[[store.ClaimedOrder, Any], store.Outcome]] = {
    OrderKind.RELEASE: release_outcome,
    OrderKind.EXTEND: extend_outcome,
    OrderKind.RETURN: return_outcome,
}


def _outcome_of(answer: Answer) -> str:
    if isinstance(answer, Traced):
        return f"statement.{answer.answer.status.value}"
    return answer.outcome.status.value


def _claim_of(item: Answer | store.Retry) -> store.Claim:
    if isinstance(item, store.Retry):
        return store.Claim(item.case_id, item.order_id, item.attempts)
    return store.Claim(item.order.case_id, item.order.order_id, item.order.attempts)

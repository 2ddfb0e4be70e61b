"""The money at one account of a case when a bank answers one of its orders, and what the answer
means for the case's hold there; pure arithmetic over typed values (answers/apply.py applies it under
the account's lock).

* A freeze answered: what it holds is held, it is no longer in flight; if a fuller view meanwhile
  showed less of the victim's money there, the excess is given back. A pending answer changes no
  money: the freeze stays in flight.
* A release or a return answered: its amount is no longer going out, and what it gave back or paid
  is no longer held. An extension answered changes no money.
* The first money a case holds on an account starts its hold there; a returning hold that has paid
  all it held is returned.
* A statement may change what is held only as far as the hold lets it (:func:`within_hold`).
* Stop first: a stop holds before the statement is in, so nothing is given back while a statement
  of the account is still due; a release elsewhere on the account may set free money a case could
  not hold, which :func:`top_up` asks for again, once per release.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from stopay.domain import holds
from stopay.domain.holds import HoldState
from stopay.domain.orders import OrderKind, OrderStatus, asks_statement, freeze_out, holds_money
from stopay.domain.trail import Step, reconcile


@dataclass(frozen=True, slots=True)
class AccountMoney:
    """The victim's money at one account of a case, in fen."""

    left_minor: int  # the victim's money the latest statement shows there
    held_minor: int  # held by the bank for the case
    in_flight_minor: int  # asked to freeze, not answered yet
    releasing_minor: int  # going out of the hold (releases and returns not answered yet)


@dataclass(frozen=True, slots=True)
class Settlement:
    money: AccountMoney
    # Held in excess of the victim's money found there: to give back with a release order.
    release_minor: int = 0


def judged(statements_due: int, traced: bool) -> bool:
    """Whether what the case holds at an account may be judged against the victim's money there
    (and any excess given back): a statement of it has been applied (``traced``) and none is still
    due. A stop holds before the statement is in; until then nothing is known of the account."""
    return traced and statements_due == 0


def settle(
    kind: OrderKind,
    before: OrderStatus,
    after: OrderStatus,
    requested_minor: int,
    asked_minor: int | None,
    held_minor: int,
    released_minor: int,
    money: AccountMoney,
    judge: bool = True,
) -> Settlement:
    """The account's money once an order of ``kind``, in status ``before`` when it went out (with
    ``asked_minor`` asked to freeze), settles as ``after``, the bank holding ``held_minor`` or giving
    back (or paying) ``released_minor``. Any excess is given back only with ``judge`` (see
    :func:`judged`; the caller counts a statement order settling here as no longer due)."""
    if kind.gives_back:
        return Settlement(
            replace(
                money,
                releasing_minor=money.releasing_minor - requested_minor,
                held_minor=money.held_minor - released_minor,
            )
        )
    if after is OrderStatus.PENDING or (not freeze_out(kind, before) and not asks_statement(kind, before)):
        # A freeze still pending, or an extension: no money moved.
        return Settlement(money)
    settled = money
    if freeze_out(kind, before):
        settled = replace(
            money,
            in_flight_minor=money.in_flight_minor - (asked_minor or 0),
            held_minor=money.held_minor + held_minor,
        )
    if not judge:
        return Settlement(settled)
    # Meanwhile a fuller view may have shown less of the victim's money here; or the last statement
    # due was given up or refused, and what the statements before showed stands.
    _, release = reconcile(settled.left_minor, settled.held_minor, settled.in_flight_minor, settled.releasing_minor)
    return Settlement(settled, release)


def starts_hold(kind: OrderKind, hold: HoldState | None, held_minor: int) -> bool:
    """The first money a freeze holds on an account starts the case's hold there (an emergency stop,
    :func:`stopay.domain.holds.starts_hold`)."""
    return holds_money(kind) and holds.starts_hold(hold, held_minor)


def return_completes(kind: OrderKind, hold: HoldState | None, money: AccountMoney) -> bool:
    """A return answered may leave a returning hold with nothing held and nothing going out: then it
    is returned (:func:`stopay.domain.holds.return_completes`)."""
    return kind is OrderKind.RETURN and holds.return_completes(hold, money.held_minor, money.releasing_minor)


def within_hold(
    result: Step,
    hold: HoldState | None,
    document_minor: int | None,
    money: AccountMoney,
    limit_minor: int | None = None,
) -> Step:
    """What a statement may change where the case's hold has moved on
    (:func:`stopay.domain.holds.statement_within_hold`; ``limit_minor``: what an objection partly
    upheld left held); tracing goes on regardless."""
    kept = holds.statement_within_hold(
        hold,
        holds.document_cap(hold, document_minor, limit_minor),
        result.left_minor,
        money.held_minor,
        money.in_flight_minor,
        money.releasing_minor,
    )
    if kept is None:
        return result
    return replace(result, left_minor=kept.left_minor, freeze_minor=kept.freeze_minor, release_minor=kept.release_minor)


def top_up(
    money: AccountMoney,
    judge: bool,
    hold: HoldState | None,
    document_minor: int | None,
    asked_releases: int,
    releases: int,
    limit_minor: int | None = None,
) -> int:
    """What to ask to freeze again at an account where a release (of any case) set money free since
    the case last asked there (``releases``, the account's count of answered releases, against
    ``asked_releases``, that count when the case last asked): the victim's money the latest
    statement shows there, less what the case holds, has in flight or is giving back. Nothing unless
    the account may be judged (``judge``, :func:`judged`), nor while a freeze or release is out
    (their answers decide first), nor beyond what the case's hold allows (its document, or
    ``limit_minor``). Another case's stop may have held the victim's money before its own statement
    showed it was not that case's; the release gives it back, and this asks for it."""
    if not judge or money.in_flight_minor or money.releasing_minor or releases <= asked_releases:
        return 0
    kept = holds.statement_within_hold(
        hold, holds.document_cap(hold, document_minor, limit_minor), money.left_minor, money.held_minor, 0, 0
    )
    freeze, _ = reconcile(money.left_minor, money.held_minor, 0, 0) if kept is None else (kept.freeze_minor, 0)
    return freeze


def ask_again_after_refusal(kind: OrderKind, after: OrderStatus, twin: bool, judge: bool, money: AccountMoney) -> int:
    """What to ask to freeze once more when the bank rejected a stop (the transfer not booked yet,
    say): its freeze order may have settled already, counting on the stop. Only a stop beside a
    freeze order (``twin``) is asked again, once, as a stop with no twin, and only once the account
    may be judged (:func:`judged`; else the statement still due sizes the freeze)."""
    if kind is not OrderKind.STOP or after is not OrderStatus.REJECTED or not twin or not judge:
        return 0
    freeze, _ = reconcile(money.left_minor, money.held_minor, money.in_flight_minor, money.releasing_minor)
    return freeze

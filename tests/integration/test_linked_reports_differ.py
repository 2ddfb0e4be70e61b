"""A later report of a transfer (same payer, payee and txn_id) that disagrees with the first on what
the bank checks (the amount, the payee's name, the time) is not linked: one of the two is wrong, and if it is
the first, the bank refuses the first case's freeze, so the later case traces the transfer too."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from stopay.api.validation import entry_from_request
from stopay.domain.case import CaseView, OrderView
from stopay.domain.clock import SYSTEM_CLOCK
from stopay.domain.orders import OrderKind
from stopay.domain.trail import Limits
from stopay.store import cases, entries
from tests.e2e.test_linked_cases import reported_again, submit
from tests.entries import confirm, simple_request

PAYEE = ("ICBC", "6222000000000001")


def order_and_stop(view: CaseView) -> tuple[OrderView, OrderView]:
    """The case's one freeze order and its stop, which freezes the same money at once."""
    [order] = [o for o in view.orders if o.kind is OrderKind.FREEZE]
    [stop] = [o for o in view.orders if o.kind is OrderKind.STOP]
    assert len(view.orders) == 2 and stop.parent_order_id == order.order_id
    assert (stop.bank_code, stop.requested_minor, stop.incoming_txn_ids) == (
        order.bank_code,
        order.requested_minor,
        order.incoming_txn_ids,
    )
    return order, stop


async def test_a_later_report_with_another_amount_or_payee_name_is_traced_too(pool) -> None:
    first = await submit(pool, simple_request((*PAYEE, 500_000)))

    other_amount = reported_again((*PAYEE, 900_000, "T0"))
    other_name = reported_again((*PAYEE, 500_000, "T0"))
    other_name.transfers[0].payee.holder_name = "张某"
    for request in (other_amount, other_name):
        later = await submit(pool, request)
        assert later.links == ()
        view = await cases.get_case(pool, later.case_id)
        assert view is not None and view.linked_minor == 0 and view.links == ()
        order, _ = order_and_stop(view)
        assert (order.bank_code, order.requested_minor, order.incoming_txn_ids) == (
            "ICBC",
            request.transfers[0].amount_minor,
            ("T0",),
        )

    # A report that agrees is still linked to the first case, which stays the one tracing it.
    agreeing = await submit(pool, reported_again((*PAYEE, 500_000, "T0")))
    assert [(x.case_id, x.traced_there) for x in agreeing.links] == [(first.case_id, True)]
    earlier = await cases.get_case(pool, first.case_id)
    assert earlier is not None
    assert [x.case_id for x in earlier.links] == [agreeing.case_id]


def _earlier(request, by: timedelta):  # type: ignore[no-untyped-def]
    at = request.transfers[0].transferred_at.ToDatetime() - by
    request.transfers[0].transferred_at.FromDatetime(at)
    return request


async def test_a_later_report_whose_time_is_further_off_than_the_window_is_traced_too(pool) -> None:
    first = await submit(pool, simple_request((*PAYEE, 500_000)))

    # Ten minutes off: one report of the two is wrong, and the bank checks the time.
    off = await submit(pool, _earlier(reported_again((*PAYEE, 500_000, "T0")), timedelta(minutes=10)))
    assert off.links == ()
    view = await cases.get_case(pool, off.case_id)
    assert view is not None and view.linked_minor == 0
    order, _ = order_and_stop(view)
    assert (order.requested_minor, order.incoming_txn_ids) == (500_000, ("T0",))

    # A minute off is within the default window of 120 s: linked.
    near = await submit(pool, _earlier(reported_again((*PAYEE, 500_000, "T0")), timedelta(minutes=1)))
    assert [x.case_id for x in near.links] == [first.case_id]

    # A deployment may widen the window.
    request = confirm(_earlier(reported_again((*PAYEE, 500_000, "T0")), timedelta(minutes=10)))
    wide = await entries.submit(
        pool, entry_from_request(request, SYSTEM_CLOCK.now()), Limits(), "test", same_transfer_window_s=900
    )
    assert [x.case_id for x in wide.links] == [first.case_id]


async def test_racing_reports_are_compared_with_the_first_to_commit(pool) -> None:
    # Submitted at once, the later reports meet the first one's row only through its unique key
    # (it committed after their statements began): its figures are compared all the same.
    for round_no in range(4):
        txn = f"RACE-{round_no}"
        requests = [
            reported_again((*PAYEE, amount, txn), station=f"ST-{n}") for n, amount in enumerate([300_000, 400_000] * 3)
        ]
        results = await asyncio.gather(*(submit(pool, r) for r in requests))
        owner = await pool.fetchrow("SELECT case_id, amount_minor FROM transfer_owners WHERE txn_id = $1", txn)
        for request, result in zip(requests, results, strict=True):
            agrees = request.transfers[0].amount_minor == owner["amount_minor"]
            if result.case_id == owner["case_id"]:
                assert result.links == ()
            else:
                assert [x.case_id for x in result.links] == ([owner["case_id"]] if agrees else [])
            kinds = [
                r["kind"] for r in await pool.fetch("SELECT kind FROM freeze_orders WHERE case_id = $1", result.case_id)
            ]
            # A case that traces the transfer has its freeze order and that order's stop.
            assert sorted(kinds) == ([] if agrees and result.case_id != owner["case_id"] else ["freeze", "stop"])

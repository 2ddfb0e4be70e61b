"""The drills' figures, computed from what a drill recorded (stopay/drills/figures.py and the
bank-outage comparison of stopay/drills/run.py)."""

from __future__ import annotations

from stopay.drills.figures import (
    Call,
    doubled_at_banks,
    longest_gap_s,
    percentile,
    recovery_s,
    resent_keys,
    unstopped_freezes,
)
from stopay.drills.run import outage_figures


def key(order: str, case: str = "c1", account: str = "ICBC:1", requests: int = 1) -> dict[str, object]:
    return {"order_id": order, "case_id": case, "account": account, "requests": requests}


def test_an_order_sent_under_two_keys_is_doubled_and_a_resend_under_one_is_not() -> None:
    tally = {
        "keys": {
            "k1": key("o1", requests=3),  # resent under its key: applied once
            "k2": key("o2", account="ICBC:2"),
            "k3": key("o2", account="ICBC:2"),  # o2 under a second key: applied twice
        }
    }
    assert doubled_at_banks(tally) == {"orders_under_two_keys": 1, "accounts_frozen_twice_in_a_case": 0}
    assert resent_keys(tally) == 1
    assert unstopped_freezes(tally) == 3
    assert unstopped_freezes({"keys": {"c1:o1/stop": key("s1"), "c1:o2": key("o2")}}) == 1


def test_one_account_frozen_by_two_orders_of_a_case_is_doubled_but_not_across_cases() -> None:
    tally = {
        "keys": {
            "k1": key("o1", case="c1", account="ABC:9"),
            "k2": key("o2", case="c1", account="ABC:9"),
            "k3": key("o3", case="c2", account="ABC:9"),
        }
    }
    assert doubled_at_banks(tally) == {"orders_under_two_keys": 0, "accounts_frozen_twice_in_a_case": 1}
    assert doubled_at_banks({"freeze_requests": 0, "keys": {}}) == {
        "orders_under_two_keys": 0,
        "accounts_frozen_twice_in_a_case": 0,
    }


def test_recovery_is_the_first_success_begun_after_the_fault() -> None:
    calls = [
        Call(9.0, 10.5, True),  # begun before the fault: does not count
        Call(10.1, 11.0, False),
        Call(11.2, 16.4, True),
        Call(12.0, 13.0, False),
        Call(14.0, 14.9, True),
    ]
    assert recovery_s(calls, 10.0) == 4.9
    assert recovery_s([Call(11.0, 12.0, False)], 10.0) is None
    assert longest_gap_s(calls, 10.0) == 4.4  # no success ended from 10.5 to 14.9


def test_percentile_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.95) == 95.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([], 0.5) is None


def test_bank_outage_compares_the_other_banks_before_and_during_the_outage() -> None:
    rows = [
        {"bank_code": "ICBC", "accepted_at": 5.0, "ms": 100.0},
        {"bank_code": "ABC", "accepted_at": 6.0, "ms": 120.0},
        {"bank_code": "ICBC", "accepted_at": 12.0, "ms": 150.0},
        {"bank_code": "ABC", "accepted_at": 13.0, "ms": 170.0},
        {"bank_code": "BOC", "accepted_at": 12.0, "ms": 31000.0},  # the bank that was down
        {"bank_code": "BOC", "accepted_at": 5.0, "ms": 90.0},
    ]
    figs = outage_figures(rows, "BOC", 10.0, 40.0)
    assert figs["others_entry_to_hold_ms_normal_p50"] == 110.0  # 100 and 120 before; BOC's 90 is not counted
    assert figs["others_entry_to_hold_ms_outage_p50"] == 160.0
    assert figs["others_holds_counted"] == [2, 2]
    assert figs["others_ratio_p50"] == 1.45
    assert figs["others_within_2x"] is True
    assert figs["down_bank_entry_to_hold_ms_p50"] == 31000.0
    assert figs["recovery_s"] == 3.0  # accepted at 12, held 31 s later: 3 s after the bank's return at 40
    slow = [*rows, *({"bank_code": "ABC", "accepted_at": 14.0, "ms": 900.0} for _ in range(2))]
    assert outage_figures(slow, "BOC", 10.0, 40.0)["others_within_2x"] is False

"""The pure parts of the report's statistics: the time zone flag, a year earlier, durations, and the
picture's bars."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone

import pytest

from stopay.cli.statistics import duration, to_svg, utc_offset
from stopay.service.audit import year_earlier
from stopay.v1 import audit_pb2


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("+08:00", 480), ("+0800", 480), ("-05:30", -330), ("Z", 0), ("0", 0), ("+00:00", 0), ("+14:00", 840)],
)
def test_utc_offsets(text: str, minutes: int) -> None:
    assert utc_offset(text) == minutes


@pytest.mark.parametrize("text", ["8", "+8:00", "+08:60", "+19:00", "UTC+8", ""])
def test_bad_utc_offsets(text: str) -> None:
    with pytest.raises(ValueError):
        utc_offset(text)


def test_a_year_earlier_keeps_the_local_wall_clock() -> None:
    china = timezone(timedelta(hours=8))
    # Midnight of 1 January 2025 in China is 16:00 UTC on the last day of 2024.
    assert year_earlier(datetime(2025, 1, 1, tzinfo=china), 480) == datetime(2024, 1, 1, tzinfo=china)
    assert year_earlier(datetime(2024, 2, 29, 12, tzinfo=UTC), 0) == datetime(2023, 2, 28, 12, tzinfo=UTC)
    # At +08:00, 2024-02-28 20:00 UTC is already the 29th.
    assert year_earlier(datetime(2024, 2, 28, 20, tzinfo=UTC), 480) == datetime(2023, 2, 28, 4, tzinfo=china)


def test_durations() -> None:
    assert [duration(ms) for ms in (0, 1500, 119_999, 120_000, 7_200_000, 172_800_000, -172_800_000)] == [
        "0.0 s",
        "1.5 s",
        "120.0 s",
        "2.0 min",
        "2.0 h",
        "2.0 d",
        "-2.0 d",
    ]


def test_the_picture_has_four_bars_a_month_scaled_to_the_largest() -> None:
    report = audit_pb2.Report(
        groups=[
            audit_pb2.ReportGroup(key="2025-01", figures=audit_pb2.ReportFigures(reported_minor=100, frozen_minor=50)),
            audit_pb2.ReportGroup(key="2025-03", figures=audit_pb2.ReportFigures(reported_minor=200, exited_minor=20)),
        ]
    )
    root = ET.fromstring(to_svg(report))
    ns = "{http://www.w3.org/2000/svg}"
    months = [g for g in root.iter(f"{ns}g") if g.get("class") == "month"]
    assert [g.get("data-month") for g in months] == ["2025-01", "2025-03"]
    heights = {(g.get("data-month"), r.get("class")): float(r.get("height", "0")) for g in months for r in g}
    assert (
        heights[("2025-03", "reported")]
        == 2 * heights[("2025-01", "reported")]
        == 2 * 2 * heights[("2025-01", "frozen")]
    )
    assert heights[("2025-01", "returned")] == 0 and heights[("2025-03", "exited")] > 0
    assert ET.fromstring(to_svg(audit_pb2.Report())).tag == f"{ns}svg"

"""``stopay audit report``'s statistics: the groups of a report as a table for people, JSON or CSV
for programs (money as integers in fen), and an SVG picture of the monthly totals drawn by hand
(as stopay.cli.picture draws a trail). Pure functions of the ``Report`` message."""

from __future__ import annotations

import csv
import json
import re
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from stopay.domain.money import format_minor
from stopay.v1 import audit_pb2

# ReportFigures' fields in the order of the table, JSON and CSV, with the CSV column of each.
FIELDS = (
    ("cases", "cases"),
    ("reported_minor", "reported_fen"),
    ("stopped_minor", "stopped_fen"),
    ("frozen_minor", "frozen_fen"),
    ("returned_minor", "returned_fen"),
    ("exited_minor", "exited_fen"),
    ("held_cases", "held_cases"),
    ("report_to_hold_p50_ms", "report_to_hold_p50_ms"),
    ("report_to_hold_p95_ms", "report_to_hold_p95_ms"),
    ("report_to_hold_p99_ms", "report_to_hold_p99_ms"),
)
CSV_HEADER = ("group", "period", *(column for _, column in FIELDS))
GROUPINGS = {
    "": audit_pb2.REPORT_GROUPING_UNSPECIFIED,
    "fraud_type": audit_pb2.REPORT_GROUPING_FRAUD_TYPE,
    "station": audit_pb2.REPORT_GROUPING_STATION,
    "month": audit_pb2.REPORT_GROUPING_MONTH,
}
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")


def utc_offset(text: str) -> int:
    """An argparse type: ``+08:00``, ``-0530``, ``Z`` or ``0`` -> minutes east of UTC."""
    if text in ("Z", "0", "UTC"):
        return 0
    match = _OFFSET.fullmatch(text)
    if not match or int(match[3]) >= 60:
        raise ValueError(f"{text!r} is not an offset such as +08:00")
    minutes = int(match[2]) * 60 + int(match[3])
    if minutes > 18 * 60:
        raise ValueError(f"{text!r}: an offset is at most 18 hours")
    return minutes if match[1] == "+" else -minutes


def figures(f: audit_pb2.ReportFigures) -> dict[str, int]:
    return {name: int(getattr(f, name)) for name, _ in FIELDS}


def change(now: audit_pb2.ReportFigures, before: audit_pb2.ReportFigures) -> dict[str, int]:
    """Each figure now less the same a year earlier."""
    return {name: int(getattr(now, name)) - int(getattr(before, name)) for name, _ in FIELDS}


def _periods(group: audit_pb2.ReportGroup, compare: bool) -> list[tuple[str, dict[str, int]]]:
    rows = [("current", figures(group.figures))]
    if compare:
        rows.append(("previous_year", figures(group.previous_year)))
        rows.append(("change", change(group.figures, group.previous_year)))
    return rows


def to_dict(report: audit_pb2.Report, request: audit_pb2.ReportRequest) -> dict[str, Any]:
    """The statistics as plain JSON values: integers (money in fen, times in milliseconds)."""
    compare = request.compare_previous_year
    groups = []
    for g in report.groups:
        item: dict[str, Any] = {"key": g.key, **figures(g.figures)}
        if compare:
            item["previous_year"] = figures(g.previous_year)
            item["change"] = change(g.figures, g.previous_year)
        groups.append(item)
    return {
        "since": request.since.ToJsonString() if request.HasField("since") else None,
        "until": request.until.ToJsonString() if request.HasField("until") else None,
        "group_by": audit_pb2.ReportGrouping.Name(request.group_by).removeprefix("REPORT_GROUPING_").lower(),
        "utc_offset_minutes": request.utc_offset_minutes,
        "compare_previous_year": compare,
        "groups": groups,
    }


def write_json(report: audit_pb2.Report, request: audit_pb2.ReportRequest, out: TextIO) -> None:
    out.write(json.dumps(to_dict(report, request), ensure_ascii=False, indent=2) + "\n")


def write_csv(report: audit_pb2.Report, request: audit_pb2.ReportRequest, out: TextIO) -> None:
    """One row per group and period ("current", and with the comparison "previous_year" and "change")."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for g in report.groups:
        for period, values in _periods(g, request.compare_previous_year):
            writer.writerow([g.key, period, *(values[name] for name, _ in FIELDS)])


def duration(ms: int) -> str:
    """Milliseconds for people: seconds, minutes, hours or days, one decimal."""
    size = abs(ms)
    for unit, length in (("d", 86_400_000), ("h", 3_600_000), ("min", 60_000)):
        if size >= 2 * length:
            return f"{ms / length:,.1f} {unit}"
    return f"{ms / 1000:,.1f} s"


def _cell(name: str, value: int, signed: bool) -> str:
    sign = "+" if signed and value > 0 else ""
    if name.endswith("_minor"):
        return sign + format_minor(value)
    if name.endswith("_ms"):
        return sign + duration(value)
    return f"{sign}{value}"


def write_table(report: audit_pb2.Report, request: audit_pb2.ReportRequest, console: Console) -> None:
    compare = request.compare_previous_year
    table = Table(title="statistics by the victim's report (p50, p95, p99: report to first hold)")
    table.add_column("group", no_wrap=True)
    if compare:
        table.add_column("period", no_wrap=True)
    for title in (
        "cases",
        "reported",
        "stopped",
        "frozen",
        "returned",
        "exited",
        "held cases",
        "p50",
        "p95",
        "p99",
    ):
        table.add_column(title, justify="right", no_wrap=True)
    for g in report.groups:
        for period, values in _periods(g, compare):
            cells = [_cell(name, values[name], period == "change") for name, _ in FIELDS]
            label = {"current": "this period", "previous_year": "year before", "change": "change"}[period]
            table.add_row(g.key if period == "current" else "", *([label] if compare else []), *cells)
    console.print(table)


# The picture: one group of four bars per month, scaled to the largest.
SERIES = (
    ("reported_minor", "reported", "#2b5fad"),
    ("frozen_minor", "frozen", "#1b7f3b"),
    ("returned_minor", "returned", "#e0a526"),
    ("exited_minor", "exited", "#c0392b"),
)
FONT_FAMILY = "'Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei', 'PingFang SC', sans-serif"
_MARGIN = 40.0
_PLOT_HEIGHT = 240.0
_BAR = 12.0
_MONTH_GAP = 16.0


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def to_svg(report: audit_pb2.Report, title: str = "monthly totals") -> str:
    """The monthly totals of a report grouped by month as a self-contained SVG 1.1 document: per
    month (a ``<g class="month">``) a bar each for reported, frozen, returned and exited."""
    months = list(report.groups)
    top = max([int(getattr(g.figures, name)) for g in months for name, _, _ in SERIES] + [1])
    width_per_month = _BAR * len(SERIES) + _MONTH_GAP
    width = _MARGIN * 2 + max(len(months), 1) * width_per_month
    base = _MARGIN + 30 + _PLOT_HEIGHT
    height = base + 60
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{_num(width)}" height="{_num(height)}" '
        f'viewBox="0 0 {_num(width)} {_num(height)}" font-family="{_xml(FONT_FAMILY)}">',
        f"<title>{_xml(title)}</title>",
        f'<rect x="0" y="0" width="{_num(width)}" height="{_num(height)}" fill="#ffffff"/>',
        f'<text x="{_num(_MARGIN)}" y="{_num(_MARGIN - 14)}" font-size="14" font-weight="bold">{_xml(title)}'
        f" (largest {_xml(format_minor(top))})</text>",
    ]
    for n, (_, label, colour) in enumerate(SERIES):
        x = _MARGIN + n * 100
        out.append(
            f'<rect x="{_num(x)}" y="{_num(_MARGIN)}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{_num(x + 14)}" y="{_num(_MARGIN + 9)}" font-size="11">{label}</text>'
        )
    out.append(
        f'<line x1="{_num(_MARGIN)}" y1="{_num(base)}" x2="{_num(width - _MARGIN)}" y2="{_num(base)}" '
        'stroke="#7a7a7a"/>'
    )
    for m, group in enumerate(months):
        left = _MARGIN + m * width_per_month + _MONTH_GAP / 2
        out.append(f'<g class="month" data-month="{_xml(group.key)}">')
        for n, (name, label, colour) in enumerate(SERIES):
            value = int(getattr(group.figures, name))
            h = _PLOT_HEIGHT * value / top
            out.append(
                f'<rect class="{label}" x="{_num(left + n * _BAR)}" y="{_num(base - h)}" width="{_num(_BAR - 1)}" '
                f'height="{_num(h)}" fill="{colour}"><title>{_xml(group.key)} {label} '
                f"{_xml(format_minor(value))}</title></rect>"
            )
        out.append(
            f'<text x="{_num(left + _BAR * len(SERIES) / 2)}" y="{_num(base + 14)}" font-size="10" '
            f'text-anchor="middle">{_xml(group.key)}</text>'
        )
        out.append("</g>")
    if not months:
        out.append(f'<text x="{_num(_MARGIN)}" y="{_num(base - 20)}" font-size="12" fill="#555555">no cases</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"

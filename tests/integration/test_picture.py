"""Pictures of the money trail: the seed-xue case as GetCase returns it, drawn as SVG and as DOT."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bank_adapters.simulated.scenario import load_scenario
from stopay.cli.picture import to_dot, to_svg
from stopay.domain.trail import Limits
from stopay.v1 import common_pb2, station_pb2
from tests.conftest import EXAMPLES
from tests.entries import scenario_requests

SVG = "{http://www.w3.org/2000/svg}"
SEED_XUE = EXAMPLES / "seed-xue.json"
ACCOUNTS = [
    ("CQRCB", "6214830000000580", "某科技有限公司"),
    ("ICBC", "6222020200001111111", "王某某"),
    ("ABC", "6228480000002222222", "李某"),
    ("CCB", "6217000000003333333", "赵某"),
]
TRANSFERS = {"XUE-T1": "¥580,000.00", "XUE-T2": "¥230,000.00", "XUE-T3": "¥20,000.00", "XUE-T4": "¥20,000.00"}


async def seed_xue_case(make_app, channel_to) -> station_pb2.Case:
    """Submits seed-xue's entry through gRPC, watches the case settle, and returns GetCase's answer."""
    check = load_scenario(SEED_XUE).checks[0]
    app = await make_app(SEED_XUE, limits=Limits(check.rule, check.max_depth, check.min_amount))
    stub = channel_to(app)
    (request,) = scenario_requests(app, SEED_XUE)
    reply = await stub.SubmitEntry(request)
    async for _ in stub.WatchCase(station_pb2.WatchCaseRequest(case_id=reply.case_id), timeout=60):
        pass
    case = await stub.GetCase(station_pb2.GetCaseRequest(case_id=reply.case_id))
    assert case.settled and case.held_minor == 56000000 and case.exited_minor == 2000000
    return case


def texts(element: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in element.iter(f"{SVG}text")]


def groups(root: ET.Element, cls: str) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if cls in g.get("class", "").split()]


def parse_svg(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("version") == "1.1"
    width, height = float(root.get("width", "0")), float(root.get("height", "0"))
    assert width > 0 and height > 0
    assert [float(v) for v in root.get("viewBox", "").split()] == [0, 0, width, height]
    assert "Noto Sans CJK SC" in root.get("font-family", "") and "sans-serif" in root.get("font-family", "")
    return root


def boxes_inside(root: ET.Element) -> None:
    """Every box and label lies within the drawing (the trail group is moved down by its translate)."""
    width, height = float(root.get("width", "0")), float(root.get("height", "0"))
    for group in groups(root, "trail"):
        moved = re.fullmatch(r"translate\(0 (-?[\d.]+)\)", group.get("transform", ""))
        assert moved is not None
        dy = float(moved.group(1))
        for rect in group.iter(f"{SVG}rect"):
            x, y = float(rect.get("x", "0")), float(rect.get("y", "0")) + dy
            assert 0 <= x and x + float(rect.get("width", "0")) <= width
            assert 0 <= y and y + float(rect.get("height", "0")) <= height


def render_png(svg_path: Path) -> Path | None:
    """Draws the SVG with rsvg-convert or ImageMagick, where either is installed; None where neither is."""
    png = svg_path.with_suffix(".png")
    if shutil.which("rsvg-convert"):
        subprocess.run(["rsvg-convert", str(svg_path), "-o", str(png)], check=True, timeout=60)
        return png
    convert = shutil.which("convert")
    if convert:
        version = subprocess.run([convert, "-version"], capture_output=True, text=True, timeout=30)
        if version.returncode == 0 and "ImageMagick" in version.stdout:  # not a stand-in
            subprocess.run([convert, str(svg_path), str(png)], check=True, timeout=60)
            return png
    return None


async def test_the_seed_xue_picture(make_app, channel_to, tmp_path: Path) -> None:
    case = await seed_xue_case(make_app, channel_to)
    svg = to_svg(case)
    root = parse_svg(svg)
    words = texts(root)

    assert any(case.case_id in t for t in words)
    totals = next("".join(t.itertext()) for t in root.iter(f"{SVG}text") if t.get("class") == "totals")
    for figure in ("reported ¥580,000.00", "held ¥560,000.00", "exited ¥20,000.00", "unresolved ¥0.00"):
        assert figure in totals
    for bank, number, holder in ACCOUNTS:
        assert f"{bank} {number}" in words
        assert holder in words
    held = groups(root, "held")
    held_lines = sorted(w for g in held for w in texts(g) if w.startswith("held "))
    assert held_lines == ["held ¥210,000.00", "held ¥350,000.00"]
    assert all(g.find(f"{SVG}rect").get("fill") != "#ffffff" for g in held)  # type: ignore[union-attr]
    (exit_node,) = groups(root, "exit")
    assert texts(exit_node) == ["exit: ATM", "¥20,000.00"]

    edges = groups(root, "edge")
    assert len(edges) == len(TRANSFERS)
    labelled: dict[str, list[str]] = {}
    for edge in edges:
        (path,) = edge.findall(f"{SVG}path")
        assert re.fullmatch(r"url\(#arrow(-exit)?\)", path.get("marker-end", ""))
        lines = texts(edge)
        (txn,) = [t for t in TRANSFERS if any(line.startswith(t + " ") for line in lines)]
        labelled[txn] = lines
    assert set(labelled) == set(TRANSFERS)
    for txn, amount in TRANSFERS.items():
        assert labelled[txn][0] == amount
        assert re.fullmatch(rf"{txn} · \d\d:\d\d:\d\d UTC", labelled[txn][-1])
    t1 = case.orders[0].incoming[0]
    assert labelled["XUE-T1"][-1] == f"XUE-T1 · {t1.transferred_at.ToDatetime().strftime('%H:%M:%S')} UTC"
    boxes_inside(root)

    # The same case gives the same picture, also after a round trip through the wire format.
    assert to_svg(case) == svg
    assert to_svg(station_pb2.Case.FromString(case.SerializeToString())) == svg

    path = tmp_path / "seed-xue.svg"
    path.write_text(svg, encoding="utf-8")
    assert ET.parse(path).getroot().tag == f"{SVG}svg"  # opened as a file, too
    png = render_png(path)
    if png is not None:  # drawable by a real renderer
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", data[16:24])
        assert width >= 600 and height >= 150 and len(data) > 10_000

    dot = to_dot(case)
    assert dot.startswith("digraph ")
    for bank, number, holder in ACCOUNTS:
        node = re.search(rf'^  "acct:{bank}:{number}" \[label="([^"]*)"', dot, re.M)
        assert node is not None and holder in node.group(1)
    assert "held ¥350,000.00" in dot and "held ¥210,000.00" in dot
    arrows = re.findall(r'^  "([^"]+)" -> "([^"]+)" \[label="([^"]*)"', dot, re.M)
    assert len(arrows) == len(TRANSFERS)
    chain = [f"acct:{bank}:{number}" for bank, number, _ in ACCOUNTS]
    for (src, dst, label), (txn, amount), n in zip(arrows, TRANSFERS.items(), range(4), strict=True):
        assert src == chain[n] and (dst == chain[n + 1] if n < 3 else dst.startswith("exit:"))
        assert label.startswith(amount + "\\n" + txn + " · ") and label.endswith(" UTC")
    assert re.search(r'"exit:[^"]*" \[label="exit: ATM\\n¥20,000.00"', dot)
    if shutil.which("dot"):
        subprocess.run(["dot", "-Tsvg", "-o", str(tmp_path / "dot.svg")], input=dot, text=True, check=True, timeout=60)
        ET.parse(tmp_path / "dot.svg")


def ref(bank: str, number: str, holder: str = "") -> common_pb2.AccountRef:
    return common_pb2.AccountRef(bank_code=bank, number=number, holder_name=holder)


def synthetic_case() -> station_pb2.Case:
    """A trail with everything awkward: two victims, a quote and a backslash in a name, a traced part,
    a release, a cycle back to level 1, a transfer within a level, a long exit and an unreached bank."""
    case = station_pb2.Case(
        case_id='c-"1"',
        victim_name="张三",
        report_no="R-1",
        station_id="S-1",
        rule=station_pb2.ATTRIBUTION_RULE_FIFO,
        max_depth=5,
        reported_minor=150_000_000,
        held_minor=58_000_000,
        exited_minor=30_000_000,
        unresolved_minor=62_000_000,
        currency="CNY",
        settled=True,
    )
    v1, v2 = ref("CQCB", "6229100000000001", "张三"), ref("BOC", "6013820000000002", "张三")
    a, b = ref("ICBC", "6222000000000001", 'Wang "Big" \\ <Wu> & 五'), ref("ABC", "62280000000000000002", "李四")
    c, d = ref("CCB", "6217******3333", "赵六"), ref("CMB", "6214000000000004", "孙七")

    def order(oid, parent, level, account, held, status, incoming, kind=station_pb2.ORDER_KIND_FREEZE, released=0):
        o = case.orders.add(
            order_id=oid,
            parent_order_id=parent,
            level=level,
            account=account,
            held_minor=held,
            status=status,
            kind=kind,
            released_minor=released,
            currency="CNY",
        )
        for n, (txn, amount, traced, payer) in enumerate(incoming):
            t = o.incoming.add(txn_id=txn, amount_minor=amount, traced_minor=traced, payer=payer)
            t.transferred_at.seconds = 1_795_675_498 + 60 * len(case.orders) + n
        return o

    order(
        "oA",
        "",
        1,
        a,
        30_000_000,
        station_pb2.ORDER_STATUS_PARTIALLY_HELD,
        [("T1", 100_000_000, 100_000_000, v1), ("T1b", 50_000_000, 50_000_000, v2)],
    )
    order("oB", "oA", 2, b, 0, station_pb2.ORDER_STATUS_MOVED_ON, [("T2", 40_000_000, 40_000_000, a)])
    order("oC", "oA", 2, c, 20_000_000, station_pb2.ORDER_STATUS_HELD, [("T3", 50_000_000, 45_000_000, a)])
    order("oD", "oB", 3, d, 10_000_000, station_pb2.ORDER_STATUS_HELD, [("T4", 20_000_000, 20_000_000, b)])
    order(
        "oA2",
        "oD",
        4,
        a,
        0,
        station_pb2.ORDER_STATUS_RELEASED,
        [("T5", 5_000_000, 5_000_000, d)],
        kind=station_pb2.ORDER_KIND_RELEASE,
        released=2_000_000,
    )
    order("oB2", "oC", 3, b, 0, station_pb2.ORDER_STATUS_MOVED_ON, [("T6", 3_000_000, 3_000_000, c)])
    unreached = order("oX", "", 1, ref("HXB", "6230000000000009"), 0, station_pb2.ORDER_STATUS_UNDELIVERABLE, [])
    unreached.reason_code = "NOOR"
    for n, (txn, kind, amount, account, level) in enumerate(
        [("T7", common_pb2.EXIT_KIND_CASH, 10_000_000, a, 1), ("T8", common_pb2.EXIT_KIND_CRYPTO, 20_000_000, d, 3)]
    ):
        flow = case.exits.add(txn_id=txn, kind=kind, amount_minor=amount, account=account, level=level)
        flow.exited_at.seconds = 1_795_676_000 + n
    return case


def test_dot_escapes_quotes_and_backslashes() -> None:
    dot = to_dot(synthetic_case())
    assert dot.startswith('digraph "case c-\\"1\\"" {')
    assert 'Wang \\"Big\\" \\\\ <Wu> & 五' in dot
    for line in dot.splitlines():  # every string closes on its line: no quote is left unescaped
        assert len(re.findall(r'(?<!\\)(?:\\\\)*"', line)) % 2 == 0, line
    assert len(re.findall(r" -> ", dot)) == 9  # 7 transfers, 2 exits
    assert '[label="¥500,000.00\\ntraced ¥450,000.00\\nT3 · ' in dot
    assert "released ¥20,000.00" in dot and "held ¥280,000.00" in dot  # 300,000 held less 20,000 released


def test_svg_of_an_awkward_trail() -> None:
    case = synthetic_case()
    svg = to_svg(case)
    root = parse_svg(svg)
    words = texts(root)
    assert 'Wang "Big" \\ <Wu> & 五' in words and "&lt;Wu&gt;" in svg
    assert any('c-"1"' in w for w in words)
    edges = groups(root, "edge")
    assert len(edges) == 9
    for edge in edges:
        (path,) = edge.findall(f"{SVG}path")
        assert path.get("marker-end", "").startswith("url(#arrow")
        assert "nan" not in path.get("d", "").lower()
    assert {"exit: CASH", "exit: CRYPTO"} <= set(words)
    assert "held ¥280,000.00" in words and "traced ¥450,000.00" in words
    assert sum(1 for w in words if w == "victim's account") == 2
    boxes_inside(root)
    assert to_svg(case) == svg


def test_a_case_without_orders_still_draws() -> None:
    case = station_pb2.Case(case_id="empty", reported_minor=100, currency="CNY")
    root = parse_svg(to_svg(case))
    assert "no orders yet" in texts(root)
    assert to_dot(case).startswith('digraph "case empty"')


@pytest.mark.parametrize("name", ["a\x00b", "a\x1fb"])
def test_control_characters_do_not_break_the_xml(name: str) -> None:
    case = station_pb2.Case(case_id="x", currency="CNY")
    order = case.orders.add(order_id="o", level=1, account=ref("ICBC", "6222000000000001", name))
    order.incoming.add(txn_id="T1", amount_minor=100, traced_minor=100, payer=ref("BOC", "6013820000000002", "v"))
    parse_svg(to_svg(case))

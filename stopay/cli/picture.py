"""Pictures of a case's money trail: Graphviz DOT text, and an SVG drawn here without Graphviz.

Both are pure functions of a ``Case`` as ``GetCase`` returns it. Accounts are nodes (one per bank
account, however many orders reached it), the victim's paying accounts are sources on the left,
exits (cash, ATM, crypto, ...) are terminal nodes on the right, and each transfer that carried the
victim's money is an arrow labelled with its amount, the traced part when that differs, its
transaction id and its time (UTC). Accounts that hold money are highlighted. The output depends on
the case alone: the same case gives the same bytes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import partial

from google.protobuf.timestamp_pb2 import Timestamp

from stopay.api.convert import ATTRIBUTION_RULE, EXIT_KIND
from stopay.domain.money import format_minor
from stopay.v1 import common_pb2, station_pb2

FONT_FAMILY = "'Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei', 'PingFang SC', sans-serif"

# Colours: blue for the victim, green for money held, red for money gone, grey for the rest.
_VICTIM = ("#e8f0fc", "#2b5fad")
_HELD = ("#dff3e4", "#1b7f3b")
_PLAIN = ("#ffffff", "#7a7a7a")
_EXIT = ("#fde7e4", "#c0392b")
_OTHER = ("#f4f4f4", "#9a9a9a")


@dataclass
class _Node:
    key: str
    kind: str  # "victim", "account", "exit" or "other"
    bank_code: str = ""
    number: str = ""
    holder: str = ""
    levels: list[int] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    held: int = 0
    released: int = 0
    returned: int = 0
    paid: int = 0
    exit_kind: str = ""
    amount: int = 0
    order_ids: list[str] = field(default_factory=list)
    column: int = 0


@dataclass
class _Edge:
    src: str
    dst: str
    amount: int
    traced: int
    txn_id: str
    time: str
    to_exit: bool


@dataclass
class _Trail:
    case: station_pb2.Case
    currency: str
    nodes: dict[str, _Node]
    edges: list[_Edge]
    exit_column: int


def _account_key(ref: common_pb2.AccountRef) -> str:
    return f"acct:{ref.bank_code}:{ref.number}"


def _hms(ts: Timestamp, present: bool) -> str:
    if not present:
        return ""
    return ts.ToDatetime().strftime("%H:%M:%S") + " UTC"


def _status_text(order: station_pb2.FreezeOrder) -> str:
    name = station_pb2.OrderStatus.Name(order.status)
    name = name.removeprefix("ORDER_STATUS_").lower().replace("_", " ")
    return f"{name} ({order.reason_code})" if order.reason_code else name


def _trail(case: station_pb2.Case) -> _Trail:
    """The nodes and arrows of the picture, in an order fixed by the case alone."""
    nodes: dict[str, _Node] = {}
    for order in case.orders:
        key = _account_key(order.account)
        node = nodes.get(key)
        if node is None:
            node = nodes[key] = _Node(key, "account", order.account.bank_code, order.account.number)
        node.holder = node.holder or order.account.holder_name
        if order.level not in node.levels:
            node.levels.append(order.level)
        status = _status_text(order)
        if status not in node.statuses:
            node.statuses.append(status)
        if order.kind == station_pb2.ORDER_KIND_RELEASE:
            node.held -= order.released_minor
            node.released += order.released_minor
        elif order.kind == station_pb2.ORDER_KIND_RETURN:
            node.held -= order.released_minor
            node.returned += order.released_minor
        else:
            node.held += order.held_minor
        node.order_ids.append(order.order_id)

    edges: list[_Edge] = []
    seen: set[tuple[str, str, str]] = set()
    for order in case.orders:
        dst = _account_key(order.account)
        for t in order.incoming:
            src = _account_key(t.payer)
            if (t.txn_id, src, dst) in seen:
                continue
            seen.add((t.txn_id, src, dst))
            payer = nodes.get(src)
            if payer is None:
                first = order.level <= 1 or not order.parent_order_id
                payer = nodes[src] = _Node(src, "victim" if first else "other", t.payer.bank_code, t.payer.number)
                payer.column = 0 if first else max(order.level - 1, 1)
            payer.holder = payer.holder or t.payer.holder_name
            if payer.kind == "victim":
                payer.paid += t.amount_minor
            edges.append(
                _Edge(
                    src,
                    dst,
                    t.amount_minor,
                    t.traced_minor,
                    t.txn_id,
                    _hms(t.transferred_at, t.HasField("transferred_at")),
                    False,
                )
            )

    for node in nodes.values():
        if node.kind == "account":
            node.column = max(min(node.levels), 1)
    deepest = max((n.column for n in nodes.values()), default=0)
    for index, flow in enumerate(case.exits):
        src = _account_key(flow.account)
        if src not in nodes:
            nodes[src] = _Node(
                src,
                "other",
                flow.account.bank_code,
                flow.account.number,
                flow.account.holder_name,
                column=max(flow.level, 1),
            )
            deepest = max(deepest, nodes[src].column)
        key = f"exit:{index}:{flow.txn_id}"
        kind = EXIT_KIND.name(flow.kind) if flow.kind else "UNKNOWN"
        nodes[key] = _Node(key, "exit", exit_kind=kind, amount=flow.amount_minor)
        edges.append(
            _Edge(
                src,
                key,
                flow.amount_minor,
                flow.amount_minor,
                flow.txn_id,
                _hms(flow.exited_at, flow.HasField("exited_at")),
                True,
            )
        )
    exit_column = max(deepest, 1) + 1
    for node in nodes.values():
        if node.kind == "exit":
            node.column = exit_column
    return _Trail(case, case.currency or "CNY", nodes, edges, exit_column)


# Lines of text: (text, style) with style one of "title", "strong", "held", "exit", "victim", "", "muted".
_Line = tuple[str, str]


def _node_lines(node: _Node, currency: str) -> list[_Line]:
    if node.kind == "exit":
        return [(f"exit: {node.exit_kind}", "exit"), (format_minor(node.amount, currency), "strong")]
    lines: list[_Line] = []
    if node.kind == "victim":
        lines.append(("victim's account", "victim"))
    lines.append((f"{node.bank_code} {node.number}", "strong"))
    if node.holder:
        lines.append((node.holder, ""))
    if node.kind == "victim":
        lines.append((f"paid {format_minor(node.paid, currency)}", ""))
    elif node.kind == "other":
        lines.append(("not traced by this case", "muted"))
    else:
        levels = ", ".join(str(v) for v in sorted(node.levels))
        word = "level" if len(node.levels) == 1 else "levels"
        lines.append((f"{word} {levels} · {', '.join(node.statuses)}", "muted"))
        if node.held > 0:
            lines.append((f"held {format_minor(node.held, currency)}", "held"))
        if node.released > 0:
            lines.append((f"released {format_minor(node.released, currency)}", "muted"))
        if node.returned > 0:
            lines.append((f"returned {format_minor(node.returned, currency)}", "muted"))
    return lines


def _edge_lines(edge: _Edge, currency: str) -> list[_Line]:
    lines: list[_Line] = [(format_minor(edge.amount, currency), "exit" if edge.to_exit else "strong")]
    if edge.traced != edge.amount:
        lines.append((f"traced {format_minor(edge.traced, currency)}", ""))
    lines.append((" · ".join(x for x in (edge.txn_id, edge.time) if x), "muted"))
    return lines


def _totals(case: station_pb2.Case, currency: str) -> list[tuple[str, str]]:
    return (
        [
            ("reported", format_minor(case.reported_minor, currency)),
            ("held", format_minor(case.held_minor, currency)),
            ("exited", format_minor(case.exited_minor, currency)),
        ]
        + (
            [("back with victim", format_minor(case.back_with_victim_minor, currency))]
            if case.back_with_victim_minor
            else []
        )
        + [
            ("unresolved", format_minor(case.unresolved_minor, currency)),
        ]
    )


def _column_names(trail: _Trail) -> dict[int, str]:
    names = {0: "victim"}
    for column in range(1, trail.exit_column):
        names[column] = f"level {column}"
    names[trail.exit_column] = "exits"
    return names


# ----------------------------------------------------------------------------------------------
# DOT


def _dot_quote(text: str) -> str:
    """A DOT double-quoted string: backslashes and quotes escaped, line breaks made spaces."""
    text = re.sub(r"[\r\n\t]+", " ", text)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_label(lines: list[_Line]) -> str:
    """Lines joined by DOT's centred line break ``\\n`` (escaped line by line first)."""
    return "\\n".join(_dot_quote(text)[1:-1] for text, _ in lines)


def to_dot(case: station_pb2.Case) -> str:
    """The trail as Graphviz DOT text (``dot -Tsvg``), left to right by level."""
    trail = _trail(case)
    cur = trail.currency
    totals = "   ".join(f"{name} {value}" for name, value in _totals(case, cur))
    title = _dot_label([(f"case {case.case_id}", ""), (totals, "")])
    font = _dot_quote("Noto Sans CJK SC,Microsoft YaHei,sans-serif")
    out = [
        f"digraph {_dot_quote('case ' + case.case_id)} {{",
        f'  graph [rankdir=LR, labelloc=t, fontname={font}, nodesep=0.4, ranksep=1.2, label="{title}"];',
        f'  node [shape=box, style="rounded,filled", fontname={font}, fontsize=11];',
        f"  edge [fontname={font}, fontsize=10];",
    ]
    for column in sorted({n.column for n in trail.nodes.values()}):
        members = " ".join(_dot_quote(n.key) + ";" for n in trail.nodes.values() if n.column == column)
        out.append(f"  {{ rank=same; {members} }}")
    for node in trail.nodes.values():
        label = _dot_label(_node_lines(node, cur))
        if node.kind == "victim":
            fill, line, extra = *_VICTIM, "penwidth=1.5"
        elif node.kind == "exit":
            fill, line, extra = *_EXIT, 'shape=octagon, style="filled"'
        elif node.kind == "other":
            fill, line, extra = *_OTHER, 'style="rounded,filled,dashed"'
        elif node.held > 0:
            fill, line, extra = *_HELD, 'penwidth=3, style="rounded,filled,bold"'
        else:
            fill, line, extra = *_PLAIN, "penwidth=1"
        out.append(f'  {_dot_quote(node.key)} [label="{label}", fillcolor="{fill}", color="{line}", {extra}];')
    for edge in trail.edges:
        label = _dot_label(_edge_lines(edge, cur))
        style = f', color="{_EXIT[1]}", fontcolor="{_EXIT[1]}", style=dashed' if edge.to_exit else ""
        out.append(f'  {_dot_quote(edge.src)} -> {_dot_quote(edge.dst)} [label="{label}"{style}];')
    out.append("}")
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------------------------
# SVG

_SIZES = {
    "title": 18.0,
    "strong": 12.5,
    "held": 12.5,
    "exit": 12.5,
    "victim": 12.0,
    "": 12.0,
    "muted": 11.0,
    "head": 13.0,
}
_BOLD = {"title", "strong", "held", "exit", "victim", "head"}
_COLOURS = {
    "title": "#1a1a1a",
    "strong": "#1a1a1a",
    "held": _HELD[1],
    "exit": _EXIT[1],
    "victim": _VICTIM[1],
    "": "#1a1a1a",
    "muted": "#555555",
    "head": "#1a1a1a",
}
_LINE_GAP = 1.35  # line height in font sizes
_PAD_X, _PAD_Y = 12.0, 9.0
_ROW_GAP = 30.0
_MARGIN = 24.0
_LABEL_GAP = 6.0
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _plain(key: str) -> str:
    return key.split(":", 1)[1]


def _xml(text: str) -> str:
    text = _INVALID_XML.sub("\ufffd", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _num(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _text_width(text: str, style: str) -> float:
    """An upper estimate of the drawn width: CJK is one em wide, the rest about 0.62 em (0.68 bold)."""
    size = _SIZES[style]
    narrow = 0.68 if style in _BOLD else 0.62
    return sum(size if unicodedata.east_asian_width(ch) in "WF" else size * narrow for ch in text)


def _block_size(lines: list[_Line]) -> tuple[float, float]:
    width = max((_text_width(t, s) for t, s in lines), default=0.0)
    height = sum(_SIZES[s] * _LINE_GAP for _, s in lines)
    return width, height


def _text_block(lines: list[_Line], cx: float, top: float, anchor: str = "middle") -> list[str]:
    out = []
    y = top
    for text, style in lines:
        size = _SIZES[style]
        y += size * _LINE_GAP
        weight = ' font-weight="bold"' if style in _BOLD else ""
        out.append(
            f'<text x="{_num(cx)}" y="{_num(y - size * 0.35)}" text-anchor="{anchor}" font-size="{_num(size)}"'
            f'{weight} fill="{_COLOURS[style]}">{_xml(text)}</text>'
        )
    return out


@dataclass
class _Item:
    """One place in a column: a node's box, or the point where a long arrow crosses the column."""

    key: str
    column: int
    height: float
    node: _Node | None = None
    preds: list[str] = field(default_factory=list)
    succs: list[str] = field(default_factory=list)
    y: float = 0.0  # top

    @property
    def centre(self) -> float:
        return self.y + self.height / 2


def _barycentre(item: _Item, neighbours: str, rank: dict[str, int], first: dict[str, int]) -> tuple[float, int]:
    """Where ``item`` wants to be in its column: the mean rank of its neighbours, then the case's order."""
    linked = [rank[k] for k in getattr(item, neighbours)]
    return (sum(linked) / len(linked) if linked else float(rank[item.key]), first[item.key])


def _order_columns(columns: dict[int, list[_Item]]) -> None:
    """Barycentre sweeps (down, up, down) to keep arrows from crossing; ties keep the case's order."""
    first = {item.key: n for n, item in enumerate(i for c in sorted(columns) for i in columns[c])}
    ordered = sorted(columns)

    def sweep(cols: list[int], neighbours: str) -> None:
        for column in cols:
            rank = {key: n for c in columns for n, key in enumerate(i.key for i in columns[c])}
            columns[column].sort(key=partial(_barycentre, neighbours=neighbours, rank=rank, first=first))

    sweep(ordered[1:], "preds")
    sweep(list(reversed(ordered[:-1])), "succs")
    sweep(ordered[1:], "preds")


def _place_columns(columns: dict[int, list[_Item]]) -> None:
    """Vertical places: each item near the mean of its predecessors, without overlaps."""
    lookup = {item.key: item for column_items in columns.values() for item in column_items}
    for column in sorted(columns):
        column_items = columns[column]
        bottom = None
        wants: list[tuple[_Item, float]] = []
        for item in column_items:
            desired = None
            if column != min(columns) and item.preds:
                desired = sum(lookup[k].centre for k in item.preds) / len(item.preds)
            top = desired - item.height / 2 if desired is not None else (bottom if bottom is not None else 0.0)
            if bottom is not None:
                top = max(top, bottom)
            item.y = top
            bottom = top + item.height + _ROW_GAP
            if desired is not None:
                wants.append((item, desired))
        if wants:
            shift = sum(desired - item.centre for item, desired in wants) / len(wants)
            for item in column_items:
                item.y += shift


def _spread(group: list[int], wanted: list[float], sizes: list[tuple[float, float]]) -> tuple[float, float]:
    """Top and bottom of labels stacked without overlap, centred on where they want to be."""
    heights = [sizes[n][1] for n in group]
    offsets, y = [], 0.0
    for h in heights:
        offsets.append(y)
        y += h + _LABEL_GAP
    top = sum(wanted[n] - off for n, off in zip(group, offsets, strict=True)) / len(group)
    return top, top + y


def _items(
    trail: _Trail, names: dict[int, str], node_lines: dict[str, list[_Line]]
) -> tuple[dict[str, _Item], list[list[str]]]:
    """The boxes and the arrows between them, ordered and placed in their columns. An arrow is a chain
    of items, one per column crossed: a long one gets a crossing point in each column it passes."""
    nodes = trail.nodes
    items: dict[str, _Item] = {}
    columns: dict[int, list[_Item]] = {c: [] for c in names}
    for key, node in nodes.items():
        _, height = _block_size(node_lines[key])
        item = _Item(key, node.column, height + 2 * _PAD_Y, node)
        items[key] = item
        columns.setdefault(node.column, []).append(item)

    chains: list[list[str]] = []
    for n, edge in enumerate(trail.edges):
        a, b = nodes[edge.src].column, nodes[edge.dst].column
        chain = [edge.src]
        if a != b:
            step = 1 if b > a else -1
            for column in range(a + step, b, step):
                key = f"~{n}:{column}"
                items[key] = _Item(key, column, 6.0)
                columns[column].append(items[key])
                chain.append(key)
        chain.append(edge.dst)
        chains.append(chain)
        for u, v in zip(chain, chain[1:], strict=False):
            lo, hi = (u, v) if items[u].column < items[v].column else (v, u)
            if items[lo].column != items[hi].column:
                items[hi].preds.append(lo)
                items[lo].succs.append(hi)
    _order_columns(columns)
    _place_columns(columns)
    return items, chains


def _label_gaps(trail: _Trail) -> list[int]:
    """The gap each arrow's label sits in: next to the arrow's source, on the arrow's side."""
    label_gap: list[int] = []
    for edge in trail.edges:
        a, b = trail.nodes[edge.src].column, trail.nodes[edge.dst].column
        label_gap.append(a - 1 if b < a else a)
    return label_gap


def _headings(case: station_pb2.Case, trail: _Trail, names: dict[int, str]) -> dict[int, list[_Line]]:
    """Each column's name over its money: reported, traced and held per level, exited."""
    cur = trail.currency
    level_totals = {lt.level: lt for lt in case.levels}
    headings: dict[int, list[_Line]] = {}
    for column, name in names.items():
        heading: list[_Line] = [(name, "head")]
        if column == 0:
            heading.append((f"reported {format_minor(case.reported_minor, cur)}", "muted"))
            if case.back_with_victim_minor:
                heading.append((f"back {format_minor(case.back_with_victim_minor, cur)}", "muted"))
        elif column == trail.exit_column:
            heading.append((f"exited {format_minor(case.exited_minor, cur)}", "muted"))
        elif column in level_totals:
            lt = level_totals[column]
            heading.append((f"traced {format_minor(lt.traced_minor, cur)}", "muted"))
            heading.append((f"held {format_minor(lt.held_minor, cur)}", "muted"))
            if lt.exited_minor:
                heading.append((f"exited {format_minor(lt.exited_minor, cur)}", "muted"))
        headings[column] = heading
    return headings


@dataclass
class _Columns:
    """Widths and places across the page: a column fits its boxes and heading, a gap after it the
    arrow labels that sit there."""

    box: dict[int, float]  # width of the boxes in a column
    width: dict[int, float]
    gap: dict[int, float]
    x: dict[int, float]
    content_width: float

    def box_of(self, item: _Item) -> tuple[float, float, float, float]:
        """Left, top, width and height of a node's box."""
        width = self.box[item.column]
        left = self.x[item.column] + (self.width[item.column] - width) / 2
        return left, item.y, width, item.height


def _columns(
    trail: _Trail,
    names: dict[int, str],
    node_lines: dict[str, list[_Line]],
    headings: dict[int, list[_Line]],
    label_gap: list[int],
    label_sizes: list[tuple[float, float]],
) -> _Columns:
    nodes = trail.nodes
    box_width = {key: _block_size(node_lines[key])[0] + 2 * _PAD_X for key in nodes}
    column_box: dict[int, float] = {}
    for key, node in nodes.items():
        column_box[node.column] = max(column_box.get(node.column, 0.0), box_width[key], 150.0)
    column_width = {c: max(column_box.get(c, 150.0), _block_size(headings[c])[0] + 8) for c in names}
    gap_width = {c: 90.0 for c in names}
    for n, gap in enumerate(label_gap):
        gap_width[gap] = max(gap_width.get(gap, 90.0), label_sizes[n][0] + 64)
    col_x: dict[int, float] = {}
    x = _MARGIN
    for column in sorted(names):
        col_x[column] = x
        x += column_width[column] + gap_width[column]
    content_width = x - gap_width[max(names)] + _MARGIN
    return _Columns(column_box, column_width, gap_width, col_x, content_width)


def _ports(
    chains: list[list[str]], items: dict[str, _Item], cols: _Columns
) -> dict[tuple[int, int], tuple[float, float]]:
    """Where each arrow (n) leaves its source (0) and meets its target (1): arrows meeting one side of
    a box are spread along it in the order of their other ends."""
    ends: dict[tuple[str, str], list[tuple[float, int, int]]] = {}
    for n, chain in enumerate(chains):
        for position, (key, neighbour) in enumerate(((chain[0], chain[1]), (chain[-1], chain[-2]))):
            same = items[key].column == items[neighbour].column
            side = "right" if same or items[neighbour].column > items[key].column else "left"
            ends.setdefault((key, side), []).append((items[neighbour].centre, n, position))
    port: dict[tuple[int, int], tuple[float, float]] = {}
    for (key, side), found in ends.items():
        found.sort()
        left, top, width, height = cols.box_of(items[key])
        spacing = min(16.0, (height - 12) / (len(found) - 1)) if len(found) > 1 else 0.0
        for rank, (_, n, position) in enumerate(found):
            y = top + height / 2 + (rank - (len(found) - 1) / 2) * spacing
            port[(n, position)] = (left + width if side == "right" else left, y)
    return port


@dataclass
class _Arrow:
    path: str  # SVG path data
    label_at: tuple[float, float]  # the middle of the first stretch after the source
    label_y_span: float  # how far that stretch climbs (0: level)


def _arrows(
    chains: list[list[str]],
    items: dict[str, _Item],
    port: dict[tuple[int, int], tuple[float, float]],
    cols: _Columns,
) -> list[_Arrow]:
    """Each arrow's curve through its crossing points, and the place of its label."""
    arrows: list[_Arrow] = []
    for n, chain in enumerate(chains):
        start, end = port[(n, 0)], port[(n, 1)]
        if len(chain) == 2 and items[chain[0]].column == items[chain[1]].column:
            bulge = start[0] + 26 + min(40.0, abs(end[1] - start[1]) / 3)
            path = (
                f"M {_num(start[0])} {_num(start[1])} C {_num(bulge)} {_num(start[1])} "
                f"{_num(bulge)} {_num(end[1])} {_num(end[0])} {_num(end[1])}"
            )
            label_at = (start[0] + cols.gap[items[chain[0]].column] / 2, (start[1] + end[1]) / 2)
            arrows.append(_Arrow(path, label_at, end[1] - start[1]))
            continue
        points = [start]
        forward = items[chain[-1]].column > items[chain[0]].column
        for key in chain[1:-1]:
            item = items[key]
            left, right = cols.x[item.column], cols.x[item.column] + cols.width[item.column]
            y = item.centre
            points += [(left, y), (right, y)] if forward else [(right, y), (left, y)]
        points.append(end)
        d = [f"M {_num(points[0][0])} {_num(points[0][1])}"]
        for i in range(0, len(points) - 1, 2):
            (x0, y0), (x1, y1) = points[i], points[i + 1]
            mx = (x0 + x1) / 2
            d.append(f"C {_num(mx)} {_num(y0)} {_num(mx)} {_num(y1)} {_num(x1)} {_num(y1)}")
            if i + 2 < len(points):
                d.append(f"L {_num(points[i + 2][0])} {_num(points[i + 2][1])}")
        (x0, y0), (x1, y1) = points[0], points[1]
        arrows.append(_Arrow(" ".join(d), ((x0 + x1) / 2, (y0 + y1) / 2), y1 - y0))
    return arrows


def _label_tops(arrows: list[_Arrow], label_sizes: list[tuple[float, float]], label_gap: list[int]) -> list[float]:
    """A label sits on its arrow's middle (above it where the arrow is level); labels of one gap must
    not overlap, so those that would are moved apart as little as possible, as a group."""
    wanted: list[float] = []
    for n, arrow in enumerate(arrows):
        level = abs(arrow.label_y_span) < 1
        wanted.append(arrow.label_at[1] - (label_sizes[n][1] + 7 if level else label_sizes[n][1] / 2))
    label_top: list[float] = list(wanted)
    for gap in sorted(set(label_gap)):
        members = sorted((wanted[n], n) for n in range(len(arrows)) if label_gap[n] == gap)
        groups: list[list[int]] = []
        for _, n in members:
            groups.append([n])
            while len(groups) > 1 and (
                _spread(groups[-2], wanted, label_sizes)[1] > _spread(groups[-1], wanted, label_sizes)[0]
            ):
                last = groups.pop()
                groups[-1].extend(last)
        for group in groups:
            y = _spread(group, wanted, label_sizes)[0]
            for n in group:
                label_top[n] = y
                y += label_sizes[n][1] + _LABEL_GAP
    return label_top


_HEADER_HEIGHT = 28 + 22 + 24 + 22


@dataclass
class _Page:
    """The page's heading lines, its size, and how far the trail is moved down below the headings."""

    title: str
    meta: str
    totals: list[tuple[str, str]]
    content_top: float
    shift: float
    width: float
    height: float


def _page(
    case: station_pb2.Case,
    trail: _Trail,
    items: dict[str, _Item],
    headings: dict[int, list[_Line]],
    label_top: list[float],
    label_sizes: list[tuple[float, float]],
    content_width: float,
) -> _Page:
    title = f"Money trail of case {case.case_id}"
    facts = [
        f"victim {case.victim_name}" if case.victim_name else "",
        f"report {case.report_no}" if case.report_no else "",
        f"station {case.station_id}" if case.station_id else "",
        f"rule {ATTRIBUTION_RULE.name(case.rule)}, depth {case.max_depth}" if case.rule else "",
        "settled" if case.settled else "in progress",
    ]
    meta = " · ".join(f for f in facts if f)
    totals = _totals(case, trail.currency)
    totals_text = "    ".join(f"{name} {value}" for name, value in totals)
    heading_height = max(_block_size(h)[1] for h in headings.values()) + 10
    tops = [item.y for item in items.values() if item.node is not None]
    content_top = _HEADER_HEIGHT + heading_height
    shift = content_top - min(tops, default=0.0)
    if label_top:
        shift = max(shift, _HEADER_HEIGHT + 4 - min(label_top))
    bottoms = [item.y + item.height for item in items.values()]
    bottoms += [label_top[n] + label_sizes[n][1] for n in range(len(label_top))]
    height = max(bottoms, default=0.0) + shift + _MARGIN
    width = max(
        content_width,
        _text_width(title, "title") + 2 * _MARGIN,
        _text_width(meta, "") + 2 * _MARGIN,
        _text_width(totals_text, "head") + 2 * _MARGIN + 40,
        480.0,
    )
    height = max(height, content_top + 60)
    return _Page(title, meta, totals, content_top, shift, width, height)


def _svg_heading(page: _Page) -> list[str]:
    """The document's start, the arrow markers, the background, and the title, facts and totals."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{_num(page.width)}" '
        f'height="{_num(page.height)}" viewBox="0 0 {_num(page.width)} {_num(page.height)}" '
        f'font-family="{_xml(FONT_FAMILY)}">',
        f"<title>{_xml(page.title)}</title>",
        "<defs>",
        '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9" '
        'markerUnits="userSpaceOnUse" orient="auto"><path d="M 0 0 L 10 5 L 0 10 z" fill="#4a4a4a"/></marker>',
        '<marker id="arrow-exit" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9" '
        f'markerUnits="userSpaceOnUse" orient="auto"><path d="M 0 0 L 10 5 L 0 10 z" fill="{_EXIT[1]}"/></marker>',
        "</defs>",
        f'<rect x="0" y="0" width="{_num(page.width)}" height="{_num(page.height)}" fill="#ffffff"/>',
        '<g class="heading">',
        f'<text x="{_num(_MARGIN)}" y="34" font-size="{_num(_SIZES["title"])}" font-weight="bold" '
        f'fill="#1a1a1a">{_xml(page.title)}</text>',
        f'<text x="{_num(_MARGIN)}" y="58" font-size="12" fill="#555555">{_xml(page.meta)}</text>',
    ]
    spans = []
    for n, (name, value) in enumerate(page.totals):
        colour = {"held": _HELD[1], "exited": _EXIT[1]}.get(name, "#1a1a1a")
        spans.append(
            f'<tspan fill="#555555">{"     " if n else ""}{_xml(name)} </tspan>'
            f'<tspan font-weight="bold" fill="{colour}">{_xml(value)}</tspan>'
        )
    out.append(
        f'<text x="{_num(_MARGIN)}" y="84" font-size="13" class="totals" xml:space="preserve">{"".join(spans)}</text>'
    )
    out.append("</g>")
    return out


def _svg_column_headings(names: dict[int, str], headings: dict[int, list[_Line]], cols: _Columns) -> list[str]:
    out = ['<g class="columns">']
    for column in sorted(names):
        cx = cols.x[column] + cols.width[column] / 2
        out += _text_block(headings[column], cx, _HEADER_HEIGHT)
    out.append("</g>")
    return out


def _svg_edge(
    n: int, edge: _Edge, arrow: _Arrow, lines: list[_Line], size: tuple[float, float], label_top: float
) -> list[str]:
    """One arrow with its label on a white card; arrows into exits are red and dashed."""
    colour = _EXIT[1] if edge.to_exit else "#4a4a4a"
    dash = ' stroke-dasharray="6 4"' if edge.to_exit else ""
    marker = "arrow-exit" if edge.to_exit else "arrow"
    lw, lh = size
    lx = arrow.label_at[0]
    return [
        f'<g class="edge" id="{_xml(f"edge-{n}")}">',
        f"<title>{_xml(f'{edge.txn_id}: {_plain(edge.src)} → {_plain(edge.dst)}')}</title>",
        f'<path d="{arrow.path}" fill="none" stroke="{colour}" stroke-width="1.6"{dash} marker-end="url(#{marker})"/>',
        f'<rect x="{_num(lx - lw / 2 - 5)}" y="{_num(label_top - 1)}" width="{_num(lw + 10)}" '
        f'height="{_num(lh + 4)}" rx="3" fill="#ffffff" fill-opacity="0.92" stroke="#dddddd" '
        'stroke-width="0.6"/>',
        *_text_block(lines, lx, label_top),
        "</g>",
    ]


def _svg_node(key: str, node: _Node, box: tuple[float, float, float, float], lines: list[_Line]) -> list[str]:
    """One box: blue for the victim, green and thick where money is held, red for an exit, dashed
    grey for money that went elsewhere."""
    left, top, bw, bh = box
    if node.kind == "victim":
        (fill, stroke), stroke_width = _VICTIM, 1.6
    elif node.kind == "exit":
        (fill, stroke), stroke_width = _EXIT, 1.6
    elif node.kind == "other":
        (fill, stroke), stroke_width = _OTHER, 1.0
    elif node.held > 0:
        (fill, stroke), stroke_width = _HELD, 3.0
    else:
        (fill, stroke), stroke_width = _PLAIN, 1.2
    kind = "held" if node.kind == "account" and node.held > 0 else node.kind
    tip = ", ".join(node.order_ids) if node.order_ids else key
    dash = ' stroke-dasharray="4 3"' if node.kind == "other" else ""
    radius = 2 if node.kind == "exit" else 8
    return [
        f'<g class="node {kind}">',
        f"<title>{_xml(tip)}</title>",
        f'<rect x="{_num(left)}" y="{_num(top)}" width="{_num(bw)}" height="{_num(bh)}" rx="{radius}" '
        f'fill="{fill}" stroke="{stroke}" stroke-width="{_num(stroke_width)}"{dash}/>',
        *_text_block(lines, left + bw / 2, top + _PAD_Y),
        "</g>",
    ]


def to_svg(case: station_pb2.Case) -> str:
    """The trail as a self-contained SVG 1.1 document, laid out left to right by level."""
    trail = _trail(case)
    names = _column_names(trail)
    node_lines = {key: _node_lines(node, trail.currency) for key, node in trail.nodes.items()}
    items, chains = _items(trail, names, node_lines)
    edge_lines = [_edge_lines(edge, trail.currency) for edge in trail.edges]
    label_sizes = [_block_size(lines) for lines in edge_lines]
    label_gap = _label_gaps(trail)
    headings = _headings(case, trail, names)
    cols = _columns(trail, names, node_lines, headings, label_gap, label_sizes)
    arrows = _arrows(chains, items, _ports(chains, items, cols), cols)
    label_top = _label_tops(arrows, label_sizes, label_gap)
    page = _page(case, trail, items, headings, label_top, label_sizes, cols.content_width)

    out = _svg_heading(page) + _svg_column_headings(names, headings, cols)
    out.append(f'<g class="trail" transform="translate(0 {_num(page.shift)})">')
    for n, edge in enumerate(trail.edges):
        out += _svg_edge(n, edge, arrows[n], edge_lines[n], label_sizes[n], label_top[n])
    for key, node in trail.nodes.items():
        out += _svg_node(key, node, cols.box_of(items[key]), node_lines[key])
    if not trail.nodes:
        out.append(
            f'<text x="{_num(_MARGIN)}" y="{_num(page.content_top - page.shift + 20)}" font-size="12" '
            'fill="#555555">no orders yet</text>'
        )
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"

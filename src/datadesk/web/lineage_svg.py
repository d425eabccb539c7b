"""The lineage graph as the resource page draws it: a column per hop, boxes stacked, edges as SVG paths.

Built on the server (no script): the layout is a pure function of a `lineage_graph.Graph`, and every
text goes through markupsafe, so a name can never become markup. A hidden node is drawn as a grey
box saying "hidden" and nothing else: no name, type, id or link. Colours are SVG presentation
attributes (the page's CSP forbids inline styles); the stylesheet overrides them by class.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from markupsafe import Markup

from datadesk.catalog.lineage_graph import Edge, Graph, Node
from datadesk.catalog.models import Resource

NODE_W = 190
NODE_H = 42
GAP_X = 62
GAP_Y = 10
HEAD_H = 26  # the row of column headings
PAD = 4
CHAR_W = 6.7  # a generous average width of a 12.5px sans character, to clip names before the box does
NAME_CHARS = int((NODE_W - 22) / CHAR_W)
BAND = 9  # rows within which short columns are centred; a taller column starts at the top
FITS = 3 * NODE_W + 2 * GAP_X + 2 * PAD  # one hop each way fits the resource page's main column at 1366 px


@dataclass(frozen=True)
class Box:
    """A node placed on the canvas; `resource` None: hidden."""

    key: str
    x: float
    y: float
    resource: Resource | None
    current: bool = False

    @property
    def label(self) -> str:
        return label(self.resource) if self.resource else "hidden"


@dataclass(frozen=True)
class Line:
    source: str
    target: str
    kind: str
    d: str  # the SVG path


@dataclass(frozen=True)
class Layout:
    boxes: list[Box]
    lines: list[Line]
    headings: list[tuple[float, str]]  # (x of the column's centre, text)
    width: int
    height: int


def label(resource: Resource) -> str:
    """A node's short name: a column with its table (`orders.amount`), anything else by its name."""
    if resource.type == "column":
        parts = resource.qualified_name.split(".")
        return ".".join(parts[-2:]) if len(parts) >= 2 else resource.name
    return resource.name


def clip(text: str, size: int = NAME_CHARS) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def layout(found: Graph) -> Layout:
    """Columns by signed depth (upstream negative, the resource at 0), each ordered to keep edges short."""
    start_key = found.start.id
    columns: dict[int, list[Node]] = defaultdict(list)
    placed: set[str] = {start_key}
    for sign, nodes in ((-1, found.upstream), (1, found.downstream)):
        for node in nodes:
            if node.key not in placed:  # an asset both up- and downstream (a cycle) is drawn once, upstream
                placed.add(node.key)
                columns[sign * node.depth].append(node)
    column_of = {n.key: c for c, nodes in columns.items() for n in nodes} | {start_key: 0}
    order = _order(columns, found.edges, column_of)
    first, last = min([0, *columns]), max([0, *columns])
    rows = max([1, *(len(nodes) for nodes in columns.values())])
    pitch = NODE_H + GAP_Y
    height = HEAD_H + rows * pitch - GAP_Y + 2 * PAD
    width = (last - first + 1) * (NODE_W + GAP_X) - GAP_X + 2 * PAD

    def x_of(column: int) -> float:
        return PAD + (column - first) * (NODE_W + GAP_X)

    def stack(count: int) -> float:  # centred on the others, within the first BAND rows: the start stays in view
        return PAD + HEAD_H + max(0, min(rows, BAND) - count) * pitch / 2

    boxes = {start_key: Box(start_key, x_of(0), stack(1), found.start, current=True)}
    for column, keys in order.items():
        top = stack(len(keys))
        by_key = {n.key: n for n in columns[column]}
        for i, key in enumerate(keys):
            boxes[key] = Box(key, x_of(column), top + i * pitch, by_key[key].resource)
    lines = [
        Line(e.source, e.target, e.kind, _path(boxes[e.source], boxes[e.target]))
        for e in found.edges
        if e.source in boxes and e.target in boxes
    ]
    headings = [(x_of(c) + NODE_W / 2, _heading(c, found.start)) for c in range(first, last + 1)]
    return Layout(list(boxes.values()), lines, headings, int(width), int(height))


def _heading(column: int, start: Resource) -> str:
    if column == 0:
        return f"this {start.type}"
    hops = "1 hop" if abs(column) == 1 else f"{abs(column)} hops"
    return f"upstream · {hops}" if column < 0 else f"downstream · {hops}"


def _order(columns: dict[int, list[Node]], edges: list[Edge], column_of: dict[str, int]) -> dict[int, list[str]]:
    """Each column sorted by the mean position of its neighbours one column nearer the resource (barycentre)."""
    neighbours: dict[str, list[str]] = defaultdict(list)
    for e in edges:
        for a, b in ((e.source, e.target), (e.target, e.source)):
            if a not in column_of or b not in column_of or abs(column_of[b]) != abs(column_of[a]) - 1:
                continue
            if column_of[b] == 0 or (column_of[b] > 0) == (column_of[a] > 0):
                neighbours[a].append(b)
    position: dict[str, float] = {key: 0.0 for key, c in column_of.items() if c == 0}
    order: dict[int, list[str]] = {}
    for column in sorted(columns, key=abs):
        names = [n.key for n in columns[column]]  # already by name, hidden last
        keys = sorted(names, key=lambda key: _centre(key, neighbours, position, float(len(names))))
        position.update((key, float(i)) for i, key in enumerate(keys))
        order[column] = keys
    return order


def _centre(key: str, neighbours: dict[str, list[str]], position: dict[str, float], last: float) -> float:
    """Mean position of a node's placed neighbours; one with none goes last (sorting is stable: names stay in order)."""
    near = [position[n] for n in neighbours[key] if n in position]
    return sum(near) / len(near) if near else last


def _path(source: Box, target: Box) -> str:
    x1, y1 = source.x + NODE_W, source.y + NODE_H / 2
    x2, y2 = target.x, target.y + NODE_H / 2
    bend = (x2 - x1) / 2 if x2 > x1 else GAP_X  # a backward edge (a cycle) loops round
    return f"M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} {x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"


# --- SVG ---------------------------------------------------------------------------------------

FILL = {"current": "#eef0fe", "hidden": "#eef0f3", "node": "#ffffff"}
STROKE = {"current": "#4f46e5", "hidden": "#b8bfca", "node": "#cfd4dc", "value": "#8a94a4", "filter": "#c2410c"}


def render(found: Graph, *, plan: Layout | None = None, title: str = "") -> Markup:
    """The graph as an inline SVG, every text escaped (`plan`: its layout, when already made)."""
    plan = plan or layout(found)
    out = [
        Markup(
            '<svg class="lineage-graph" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
            'viewBox="0 0 {w} {h}" role="group" aria-label="{t}">'
        ).format(w=plan.width, h=plan.height, t=title or f"Lineage of {found.start.qualified_name}"),
        Markup("<defs>"),
        *(
            Markup(
                '<marker id="lineage-arrow-{k}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
                'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>'
            ).format(k=kind, c=STROKE[kind])
            for kind in ("value", "filter")
        ),
        Markup("</defs>"),
    ]
    for x, text in plan.headings:
        out.append(
            Markup(
                '<text class="lg-heading" x="{x:.1f}" y="{y}" text-anchor="middle" fill="#8a94a4">{t}</text>'
            ).format(x=x, y=PAD + 14, t=text)
        )
    for line in plan.lines:
        dash = Markup(' stroke-dasharray="5 4"') if line.kind == "filter" else Markup("")
        out.append(
            Markup(
                '<path class="lg-edge lg-edge-{k}" d="{d}" fill="none" stroke="{c}" stroke-width="1.5"{dash} '
                'marker-end="url(#lineage-arrow-{k})" data-from="{s}" data-to="{t}"><title>{why}</title></path>'
            ).format(
                k=line.kind,
                d=line.d,
                c=STROKE[line.kind],
                dash=dash,
                s=line.source,
                t=line.target,
                why="decides which rows" if line.kind == "filter" else "feeds",
            )
        )
    out.extend(_box(box) for box in plan.boxes)
    out.append(Markup("</svg>"))
    return Markup("").join(out)


def _box(box: Box) -> Markup:
    r = box.resource
    state = "current" if box.current else "hidden" if r is None else "node"
    inner = Markup(
        '<svg x="{x:.1f}" y="{y:.1f}" width="{w}" height="{h}">'
        '<rect x="1" y="1" width="{rw}" height="{rh}" rx="7" fill="{f}" stroke="{s}" stroke-width="{sw}"{dash}/>'
    ).format(
        x=box.x,
        y=box.y,
        w=NODE_W,
        h=NODE_H,
        rw=NODE_W - 2,
        rh=NODE_H - 2,
        f=FILL[state],
        s=STROKE[state],
        sw=2 if box.current else 1,
        dash=Markup(' stroke-dasharray="4 3"') if r is None else Markup(""),
    )
    if r is None:
        inner += Markup(
            '<text class="lg-name" x="{x}" y="{y}" text-anchor="middle" fill="#8a94a4">hidden</text></svg>'
        ).format(x=NODE_W / 2, y=NODE_H / 2 + 4)
        return Markup('<g class="lg-node lg-hidden"><title>An asset you cannot see</title>{}</g>').format(inner)
    inner += Markup(
        '<text class="lg-type" x="11" y="15" fill="#5f6b7d">{t}</text>'
        '<text class="lg-name" x="11" y="32" fill="#1b2230">{n}</text></svg>'
    ).format(t=r.type.replace("_", " "), n=clip(box.label))
    tooltip = f"{r.type.replace('_', ' ')} {r.qualified_name}"
    if box.current:
        return Markup('<g class="lg-node lg-current" data-key="{k}"><title>{t}</title>{i}</g>').format(
            k=box.key, t=tooltip, i=inner
        )
    return Markup('<a class="lg-node" href="/resources/{id}" data-key="{k}"><title>{t}</title>{i}</a>').format(
        id=r.id, k=box.key, t=tooltip, i=inner
    )

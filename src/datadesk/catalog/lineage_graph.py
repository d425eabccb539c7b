"""Lineage as a graph: assets joined by edges, walked hop by hop, with the hops a caller may not see kept opaque.

An asset is one node however many faces it has (a warehouse table and its dbt model and source; a
warehouse column and its dbt columns); it is named by its warehouse face when the caller sees it. A
node the caller sees none of the faces of stays in the path as `hidden-N`, with no name, type or id,
so a path through something secret is neither cut short nor revealed. An edge is followed only from
and to faces the caller sees, or faces of a wholly hidden asset: what an invisible dbt face says about
a visible table is not shown.

Tables, views, dbt nodes and dashboards walk `value` edges between assets (one reads the other);
columns walk `value` edges (a column computed from another) and `filter` edges (a column deciding
which rows a table holds, ending at that table), after which the walk goes on through the table's
own edges.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, func, select

from datadesk.access.caller import Caller
from datadesk.access.policy import Action, require
from datadesk.access.visibility import visible_resources
from datadesk.catalog import siblings
from datadesk.catalog.models import Lineage, Resource
from datadesk.db import StoreSession, shared_alias
from datadesk.errors import NotFound

MAX_DEPTH = 5
CHUNK = siblings.CHUNK
COLUMN_KINDS = ("value", "filter")
_FAR = shared_alias(Resource)  # built once: a new alias per query costs more than the query itself
ASSET_KINDS = ("value",)  # into a table, a value edge comes only from an asset; filters come from columns


@dataclass
class Node:
    key: str  # the id of the face standing for the asset, or "hidden-N"
    resource: Resource | None  # None: the caller sees no face of this asset
    depth: int  # hops from the start


@dataclass(frozen=True)
class Edge:
    source: str  # node keys: upstream feeds downstream
    target: str
    kind: str  # value | filter
    depth: int


@dataclass
class Graph:
    start: Resource
    upstream: list[Node]
    downstream: list[Node]
    edges: list[Edge]


@dataclass
class _Asset:
    id: str
    faces: dict[str, Resource]  # live faces, any visibility
    shown: list[Resource] = field(default_factory=list)  # the faces the caller sees, warehouse face first

    @property
    def usable(self) -> set[str]:
        """Faces whose edges may be followed: the visible ones, or all of a wholly hidden asset."""
        return {r.id for r in self.shown} if self.shown else set(self.faces)


def graph(*, session: StoreSession, caller: Caller, resource_id: str, depth: int = 1) -> Graph:
    """The lineage around a resource the caller sees, up to `depth` hops each way; NotFound otherwise."""
    require(caller, Action.read_workspace)
    start = session.scalar(select(Resource).where(Resource.id == resource_id, visible_resources(caller)))
    if start is None or start.deleted_at is not None:
        raise NotFound("No such resource.")
    depth = max(1, min(depth, MAX_DEPTH))
    walker = _Walker(session, caller)
    found = walker.assets([start.sibling_id or start.id])
    origin = found[0] if found else _Asset(start.id, {start.id: start}, [start])
    keys = _Keys()
    shown = origin.shown[0] if origin.shown else start
    keys.name(origin, shown)
    edges: list[Edge] = []
    sides: list[list[Node]] = []
    for upstream in (True, False):
        reached: dict[str, Node] = {}
        frontier = [origin]
        for hop in range(1, depth + 1):
            step = walker.hop(frontier, upstream=upstream)
            frontier = []
            for near, far, kind in step:
                if far.id == origin.id:
                    continue
                if far.id not in reached:
                    reached[far.id] = Node(keys.of(far), far.shown[0] if far.shown else None, hop)
                    frontier.append(far)
                near_key, far_key = keys.of(near), keys.of(far)
                edge = Edge(far_key, near_key, kind, hop) if upstream else Edge(near_key, far_key, kind, hop)
                edges.append(edge)
            if not frontier:
                break
        sides.append(sorted(reached.values(), key=_order))
    return Graph(shown, sides[0], sides[1], sorted(set(edges), key=lambda e: (e.depth, e.source, e.target, e.kind)))


def direct(
    session: StoreSession, caller: Caller, resources: Sequence[Resource]
) -> dict[str, tuple[list[Resource], list[Resource]]]:
    """Visible direct lineage (upstream, downstream) of several visible resources, in a constant number of queries."""
    if not resources:
        return {}
    walker = _Walker(session, caller)
    assets = walker.assets(sorted({r.sibling_id or r.id for r in resources}))
    result: dict[str, tuple[list[Resource], list[Resource]]] = {}
    near: dict[bool, dict[str, dict[str, Resource]]] = {}
    for upstream, step in walker.hops(assets, (True, False)).items():
        found: dict[str, dict[str, Resource]] = defaultdict(dict)
        for asset, far, _kind in step:
            if far.shown:
                found[asset.id][far.id] = far.shown[0]
        near[upstream] = found
    for r in resources:
        anchor = r.sibling_id or r.id
        ordered = [
            sorted(near[side].get(anchor, {}).values(), key=lambda x: x.qualified_name) for side in (True, False)
        ]
        result[r.id] = (ordered[0], ordered[1])
    return result


def withheld(found: Graph, keep: set[str]) -> Graph:
    """The graph with every shown node not in `keep` turned hidden (e.g. what may not leave for a provider)."""
    keys = {n.key: n.key for n in [*found.upstream, *found.downstream] if n.resource is None}
    count = len(keys)

    def hide(node: Node) -> Node:
        nonlocal count
        if node.resource is None or node.key in keep:
            return node
        count += 1
        keys[node.key] = f"hidden-{count}"
        return Node(keys[node.key], None, node.depth)

    upstream, downstream = [hide(n) for n in found.upstream], [hide(n) for n in found.downstream]
    edges = sorted(
        {Edge(keys.get(e.source, e.source), keys.get(e.target, e.target), e.kind, e.depth) for e in found.edges},
        key=lambda e: (e.depth, e.source, e.target, e.kind),
    )
    return Graph(found.start, sorted(upstream, key=_order), sorted(downstream, key=_order), edges)


def row_filters(
    session: StoreSession, caller: Caller, tables: Sequence[Resource], limit: int = 20
) -> dict[str, list[Resource | None]]:
    """Per table (by the id given), the columns whose filter edges decide its rows: the face the caller sees,
    or None for a column the caller sees no face of (counted, never named). At most `limit` per table."""
    if not tables:
        return {}
    walker = _Walker(session, caller)
    assets = {a.id: a for a in walker.assets([t.sibling_id or t.id for t in tables])}
    found: dict[str, list[Resource | None]] = {}
    step = walker.hops(list(assets.values()), (True,), kinds=("filter",))[True]
    by_asset: dict[str, list[_Asset]] = defaultdict(list)
    for near, far, _kind in step:
        by_asset[near.id].append(far)
    for table in tables:
        columns = sorted(by_asset.get(table.sibling_id or table.id, []), key=lambda a: (not a.shown, _name(a)))
        found[table.id] = [far.shown[0] if far.shown else None for far in columns[:limit]]
    return found


class _Keys:
    """Node keys: the shown face's id, or hidden-1, hidden-2... in the order the walk meets them."""

    def __init__(self) -> None:
        self._keys: dict[str, str] = {}
        self._hidden = 0

    def name(self, asset: _Asset, shown: Resource) -> None:
        self._keys[asset.id] = shown.id

    def of(self, asset: _Asset) -> str:
        if asset.id not in self._keys:
            if asset.shown:
                self._keys[asset.id] = asset.shown[0].id
            else:
                self._hidden += 1
                self._keys[asset.id] = f"hidden-{self._hidden}"
        return self._keys[asset.id]


class _Walker:
    """Loads assets and hops; each call costs a fixed number of queries, whatever the number of assets."""

    def __init__(self, session: StoreSession, caller: Caller) -> None:
        self.session = session
        self.caller = caller
        self.known: dict[str, _Asset] = {}
        # Built once per walk and run with their ids bound: building the statements costs more than running them.
        ids: Any = bindparam("ids", expanding=True)
        faces = select(Resource, visible_resources(caller).label("seen")).where(
            Resource.workspace_id == caller.workspace_id, Resource.deleted_at.is_(None)
        )
        self._faces = (faces.where(Resource.id.in_(ids)), faces.where(Resource.sibling_id.in_(ids)))
        self._edges_of: dict[tuple[bool, tuple[str, ...]], Any] = {}

    def assets(self, anchors: Sequence[str]) -> list[_Asset]:
        """The live assets whose warehouse-side ids are `anchors`, with every face and which the caller sees."""
        wanted = list(dict.fromkeys(anchors))
        faces: dict[str, dict[str, Resource]] = defaultdict(dict)
        seen: set[str] = set()
        for query in self._faces:  # the anchors themselves, then their other faces
            for i in range(0, len(wanted), CHUNK):
                for resource, visible in self.session.execute(query, {"ids": wanted[i : i + CHUNK]}):
                    faces[resource.sibling_id or resource.id][resource.id] = resource
                    if visible:
                        seen.add(resource.id)
        for anchor, found in faces.items():
            shown = siblings.ordered([r for f, r in found.items() if f in seen])
            self.known[anchor] = _Asset(anchor, found, shown)
        return [self.known[a] for a in wanted if a in self.known]

    def hop(self, frontier: Sequence[_Asset], *, upstream: bool) -> list[tuple[_Asset, _Asset, str]]:
        """One hop from each asset: (near asset, far asset, kind), through usable faces at both ends."""
        return self.hops(frontier, (upstream,))[upstream]

    def hops(
        self, frontier: Sequence[_Asset], directions: Sequence[bool], kinds: tuple[str, ...] | None = None
    ) -> dict[bool, list[tuple[_Asset, _Asset, str]]]:
        """`kinds`: the edge kinds to follow, else those of each face's type (COLUMN_KINDS, ASSET_KINDS)."""
        owner = {face: a for a in frontier for face in a.usable}
        rows = {upstream: self._edges(owner, upstream, kinds) for upstream in directions}
        far_assets = {a.id: a for a in self.assets(sorted({r[3] for found in rows.values() for r in found}))}
        result: dict[bool, list[tuple[_Asset, _Asset, str]]] = {}
        for upstream, found in rows.items():
            step: dict[tuple[str, str, str], tuple[_Asset, _Asset, str]] = {}
            for near, far, kind, anchor in found:
                asset = far_assets.get(anchor)
                if asset is not None and far in asset.usable and asset.id != owner[near].id:
                    step.setdefault((owner[near].id, asset.id, kind), (owner[near], asset, kind))
            result[upstream] = list(step.values())
        return result

    def _edges(
        self, owner: dict[str, _Asset], upstream: bool, kinds: tuple[str, ...] | None = None
    ) -> list[tuple[str, str, str, str]]:
        """(near face, far face, kind, far face's anchor) of the live edges leaving the given faces."""
        by_kind: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for face, asset in sorted(owner.items()):
            by_kind[kinds or (COLUMN_KINDS if asset.faces[face].type == "column" else ASSET_KINDS)].append(face)
        rows: list[tuple[str, str, str, str]] = []
        for kinds, faces in sorted(by_kind.items()):
            query = self._edges_of.get((upstream, kinds))
            if query is None:
                query = self._edges_of[upstream, kinds] = self._edge_query(upstream, kinds)
            for i in range(0, len(faces), CHUNK):
                rows += [(n, f, k, a) for n, f, k, a in self.session.execute(query, {"ids": faces[i : i + CHUNK]})]
        return sorted(rows)

    def _edge_query(self, upstream: bool, kinds: tuple[str, ...]) -> Any:
        near_col, far_col = (
            (Lineage.downstream_id, Lineage.upstream_id) if upstream else (Lineage.upstream_id, Lineage.downstream_id)
        )
        return (
            select(near_col, far_col, Lineage.kind, func.coalesce(_FAR.sibling_id, _FAR.id))
            .join(_FAR, _FAR.id == far_col)
            .where(
                near_col.in_(bindparam("ids", expanding=True)),
                Lineage.kind.in_(kinds),
                Lineage.workspace_id == self.caller.workspace_id,
                _FAR.deleted_at.is_(None),
            )
        )


def _name(asset: _Asset) -> str:
    return asset.shown[0].qualified_name if asset.shown else asset.id


def _order(node: Node) -> tuple[int, int, str]:
    return (node.depth, node.resource is None, node.resource.qualified_name if node.resource else node.key)

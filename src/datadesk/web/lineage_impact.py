"""What depends on a resource: its downstream lineage as a list by hop, with the edge that brings each one there."""

from __future__ import annotations

from dataclasses import dataclass, field

from datadesk.access.caller import Caller
from datadesk.catalog import lineage_graph
from datadesk.catalog.lineage_graph import Graph
from datadesk.catalog.models import Resource
from datadesk.db import StoreSession

DEPTH = lineage_graph.MAX_DEPTH


@dataclass(frozen=True)
class Via:
    """One edge into a dependent: from the resource itself, a visible node, or a hidden one (`source` None)."""

    kind: str  # value | filter
    source: Resource | None
    is_start: bool = False


@dataclass
class Dependent:
    resource: Resource
    via: list[Via] = field(default_factory=list)


@dataclass
class Level:
    depth: int
    dependents: list[Dependent]
    hidden: int  # assets at this hop the caller may not see: counted, never named


@dataclass
class Impact:
    start: Resource
    levels: list[Level]

    @property
    def visible(self) -> int:
        return sum(len(level.dependents) for level in self.levels)

    @property
    def hidden(self) -> int:
        return sum(level.hidden for level in self.levels)


def impact(*, session: StoreSession, caller: Caller, resource_id: str, depth: int = DEPTH) -> Impact:
    """Everything downstream of a resource the caller sees, up to `depth` hops, grouped by hop."""
    found = lineage_graph.graph(session=session, caller=caller, resource_id=resource_id, depth=depth)
    return levels(found)


def levels(found: Graph) -> Impact:
    """The graph's downstream side by hop; hidden nodes only counted."""
    shown = {n.key: n.resource for n in [*found.upstream, *found.downstream] if n.resource is not None}
    shown[found.start.id] = found.start
    into: dict[str, list[Via]] = {}
    for e in found.edges:
        if e.target in shown:
            via = Via(e.kind, shown.get(e.source), is_start=e.source == found.start.id)
            into.setdefault(e.target, [])
            if via not in into[e.target]:
                into[e.target].append(via)
    by_depth: dict[int, Level] = {}
    for node in found.downstream:
        level = by_depth.setdefault(node.depth, Level(node.depth, [], 0))
        if node.resource is None:
            level.hidden += 1
        else:
            level.dependents.append(Dependent(node.resource, into.get(node.key, [])))
    return Impact(found.start, [by_depth[d] for d in sorted(by_depth)])

"""THE path from catalog resources to the cards a model may read: retrieval, the assistant's tools and MCP.

For any set of visible resources it fetches columns, owners, tags, Teams, siblings, links and direct
lineage in a constant number of queries (never one round per resource), then egress decides what of
each may leave.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from datadesk.access import grants
from datadesk.access.caller import Caller
from datadesk.ai import egress
from datadesk.catalog import lineage_graph, siblings
from datadesk.catalog import service as catalog
from datadesk.catalog.models import Integration, Resource
from datadesk.db import StoreSession


@dataclass
class Carded:
    detail: catalog.Detail
    card: dict[str, Any] | None  # None: egress keeps this resource home


def build(
    session: StoreSession,
    caller: Caller,
    policy: egress.Policy,
    resources: Sequence[Resource],
    *,
    lineage: bool | Callable[[Resource], bool] = False,
) -> list[Carded]:
    """A card for each resource, in order; `lineage` says which get their direct upstream and downstream."""
    details = catalog.details(session, caller, resources)
    wanted = [d.resource for d in details if lineage is True or (callable(lineage) and lineage(d.resource))]
    near = lineage_graph.direct(session, caller, wanted)
    # Neighbours and linked resources are named only when their own tags let them leave.
    named = [r.id for up, down in near.values() for r in up + down] + [x.id for d in details for x in d.links]
    tags = siblings.asset_tags(session, named)
    engines = _engines(session, details)
    queryable = set(grants.queryable_integrations(session, caller)) if engines else set()
    return [
        Carded(
            d,
            egress.card(
                d,
                policy,
                _neighbours(near.get(d.resource.id)),
                tags,
                engines.get(d.resource.id),
                queryable=d.resource.integration_id in queryable,
            ),
        )
        for d in details
    ]


def _engines(session: StoreSession, details: list[catalog.Detail]) -> dict[str, str]:
    """The database engine of each table and view, so SQL is written in its dialect (dbt runs nothing)."""
    tables = {d.resource.id: d.resource.integration_id for d in details if d.resource.type in ("table", "view")}
    wanted = {i for i in tables.values() if i}
    if not wanted:
        return {}
    kinds = dict(session.execute(select(Integration.id, Integration.type).where(Integration.id.in_(wanted))).all())
    return {rid: kinds[i] for rid, i in tables.items() if i in kinds and kinds[i] != "dbt"}


def cards(
    session: StoreSession,
    caller: Caller,
    policy: egress.Policy,
    resources: Sequence[Resource],
    *,
    lineage: bool = False,
) -> list[dict[str, Any]]:
    """The cards that may leave, in order."""
    return [c.card for c in build(session, caller, policy, resources, lineage=lineage) if c.card is not None]


def _neighbours(found: tuple[list[Resource], list[Resource]] | None) -> egress.Neighbours | None:
    return egress.Neighbours(*found) if found is not None else None

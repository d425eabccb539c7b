"""Links dbt nodes to the warehouse tables they build (or, for sources, read)."""

from __future__ import annotations

from sqlalchemy import delete, insert, select

from datadesk.catalog.models import Integration, Lineage, Resource
from datadesk.db import StoreSession

TABLE_TYPES = ("table", "view")


def relink_dbt(session: StoreSession, workspace_id: str) -> int:
    """Recompute every dbt_link lineage edge of the workspace; returns how many there are."""
    rows = session.execute(
        select(Resource.id, Resource.qualified_name, Resource.kind, Resource.properties, Integration.type)
        .join(Integration, Integration.id == Resource.integration_id)
        .where(Resource.type.in_(TABLE_TYPES), Resource.deleted_at.is_(None))
    ).all()
    by_qualified: dict[str, str] = {}
    by_suffix: dict[str, list[str]] = {}
    dbt_nodes = []
    for row in rows:
        if row.type == "dbt":
            relation = (row.properties or {}).get("relation")
            if relation:
                dbt_nodes.append((row.id, row.kind, relation.lower()))
            continue
        qualified = row.qualified_name.lower()
        by_qualified[qualified] = row.id
        by_suffix.setdefault(".".join(qualified.split(".")[-2:]), []).append(row.id)
    wanted: set[tuple[str, str]] = set()
    for node_id, kind, relation in dbt_nodes:
        target = by_qualified.get(relation)
        if target is None:
            candidates = by_suffix.get(".".join(relation.split(".")[-2:]), [])
            target = candidates[0] if len(candidates) == 1 else None
        if target is None:
            continue
        wanted.add((target, node_id) if kind == "source" else (node_id, target))
    session.execute(delete(Lineage).where(Lineage.origin == "dbt_link"))
    if wanted:
        session.execute(
            insert(Lineage),
            [
                {"workspace_id": workspace_id, "upstream_id": u, "downstream_id": d, "origin": "dbt_link"}
                for u, d in sorted(wanted)
            ],
        )
    return len(wanted)

"""A catalog of any size written straight into a store: tables with columns, dbt siblings, tags, owners, lineage.

Shaped like a synced warehouse plus a dbt project: every table has columns, every fifth table a dbt
model face (with its columns, gated by the table), tables feed the next ones in a chain, every table
has tags and an owner and a third of the columns a pii tag, and each glossary term links twenty
tables. Teams alternate between the given ones so a caller in some of them sees part of the catalog.
Bulk Core inserts, as a sync writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Engine, Table

from datadesk.catalog.models import (
    Integration,
    Lineage,
    Resource,
    ResourceLink,
    ResourceOwner,
    ResourceTag,
    ResourceTeam,
)
from datadesk.catalog.search import index_fields
from datadesk.catalog.search_index import scope_of
from datadesk.db import new_id, utcnow

WORDS = "customer order invoice payment refund plan account event campaign product price shipment region".split()


@dataclass
class Catalog:
    workspace_id: str
    tables: list[str] = field(default_factory=list)  # warehouse tables, in lineage order
    models: list[str] = field(default_factory=list)  # dbt faces of every fifth table
    columns: list[str] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)  # glossary terms, each linking twenty tables
    warehouse_id: str = ""
    team_of: dict[str, str] = field(default_factory=dict)
    total: int = 0


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def fill(
    engine: Engine,
    workspace_id: str,
    team_ids: list[str],
    *,
    tables: int,
    columns: int = 5,
    owner_id: str | None = None,
    source: str = "dwh",
) -> Catalog:
    """Write `tables` tables (and their columns, dbt faces, edges, tags, owners) into one workspace."""
    now = utcnow()
    catalog = Catalog(workspace_id, warehouse_id=new_id())
    dbt_id = new_id()
    resources: list[dict[str, Any]] = []
    teams: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    owners: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []

    def add(rid: str, type_: str, name: str, qualified: str, team: str, **extra: Any) -> None:
        search_name, search_body = index_fields(name=name, qualified_name=qualified, description=f"the {name}")
        resources.append(
            {
                "id": rid,
                "workspace_id": workspace_id,
                "type": type_,
                "name": name,
                "qualified_name": qualified,
                "description": f"the {name}",
                "search_name": search_name,
                "search_body": search_body,
                **scope_of([team]),
                "created_at": now,
                "updated_at": now,
                "properties": {},
                "source_tags": [],
                "integration_id": catalog.warehouse_id,
                "kind": "",
                "parent_id": None,
                "sibling_id": None,
                "gate_id": None,
                "source_popularity": 0.0,
                **extra,  # executemany wants the same keys in every row
            }
        )
        teams.append({"workspace_id": workspace_id, "resource_id": rid, "team_id": team})
        catalog.team_of[rid] = team

    for i in range(tables):
        team = team_ids[i % len(team_ids)]
        name = f"{WORDS[i % len(WORDS)]}_{i}"
        table_id = new_id()
        catalog.tables.append(table_id)
        add(table_id, "table", name, f"dwh.main.{name}", team, kind="table", source_popularity=float(i % 50))
        column_ids = [new_id() for _ in range(columns)]
        for ordinal, cid in enumerate(column_ids):
            add(cid, "column", f"col_{ordinal}", f"dwh.main.{name}.col_{ordinal}", team, parent_id=table_id)
            catalog.columns.append(cid)
            if (i + ordinal) % 3 == 0:
                tags.append({"workspace_id": workspace_id, "resource_id": cid, "tag": "pii"})
        for tag in ("pii" if i % 3 == 0 else "", "finance" if i % 2 else "marketing"):
            if tag:
                tags.append({"workspace_id": workspace_id, "resource_id": table_id, "tag": tag})
        if owner_id is not None:
            owners.append({"workspace_id": workspace_id, "resource_id": table_id, "kind": "user", "owner_id": owner_id})
        if i > 0:
            edges.append(
                {"workspace_id": workspace_id, "upstream_id": catalog.tables[i - 1], "downstream_id": table_id}
            )
        if i % 5 == 0:
            model_id = new_id()
            catalog.models.append(model_id)
            face = {"integration_id": dbt_id, "sibling_id": table_id, "gate_id": table_id}
            add(model_id, "table", name, f"acme.{name}", team, kind="model", **face)
            for ordinal, warehouse_column in enumerate(column_ids):
                face = {"integration_id": dbt_id, "sibling_id": warehouse_column, "gate_id": warehouse_column}
                add(
                    new_id(), "column", f"col_{ordinal}", f"acme.{name}.col_{ordinal}", team, parent_id=model_id, **face
                )
            if i > 0:
                edges.append(
                    {"workspace_id": workspace_id, "upstream_id": catalog.tables[i - 1], "downstream_id": model_id}
                )
    links = []
    for t in range(max(1, tables // 10)):
        term = new_id()
        catalog.terms.append(term)
        add(term, "glossary_term", f"term {t}", f"glossary.term {t}", team_ids[t % len(team_ids)], integration_id=None)
        links += [
            {"workspace_id": workspace_id, "source_id": term, "target_id": target}
            for target in catalog.tables[t::10][:20]
        ]
    catalog.total = len(resources)
    with engine.begin() as connection:
        connection.execute(
            _table(Integration).insert(),
            [
                {"id": iid, "workspace_id": workspace_id, "name": name, "type": type_, "config_encrypted": ""}
                for iid, name, type_ in ((catalog.warehouse_id, source, "sqlite"), (dbt_id, f"{source}-acme", "dbt"))
            ],
        )
        for model, rows in (
            (Resource, resources),
            (ResourceTeam, teams),
            (ResourceTag, tags),
            (ResourceOwner, owners),
            (Lineage, edges),
            (ResourceLink, links),
        ):
            if rows:
                connection.execute(_table(model).insert(), rows)
    return catalog

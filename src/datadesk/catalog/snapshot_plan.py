"""Flattens a connector's Snapshot into the resources and lineage edges it describes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from datadesk.connectors.base import Snapshot, TableMeta

VIEW_KINDS = {"view", "materialized_view"}


@dataclass
class Planned:
    """One resource as the source describes it, keyed by a stable external id."""

    external_id: str
    type: str
    name: str
    qualified_name: str
    parent: str | None = None
    kind: str = ""
    source_description: str = ""
    definition: str = ""
    data_type: str = ""
    ordinal: int = 0
    is_primary_key: bool = False
    properties: dict[str, Any] = field(default_factory=dict)
    source_tags: list[str] = field(default_factory=list)
    source_owner: str = ""
    row_estimate: int | None = None
    popularity: float = 0.0
    columns: list[tuple[str, str]] = field(default_factory=list)  # a table's (column name, description)

    def content_hash(self) -> str:
        data = [
            self.type,
            self.name,
            self.qualified_name,
            self.parent,
            self.kind,
            self.source_description,
            self.definition,
            self.data_type,
            self.ordinal,
            self.is_primary_key,
            self.properties,
            self.source_tags,
            self.source_owner,
            self.columns,
        ]
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Plan:
    resources: list[Planned]  # parents before children
    edges: set[tuple[str, str]]  # (upstream external id, downstream external id): an asset reads another
    relations: dict[str, tuple[str, str, str]]  # dbt node external id -> warehouse relation
    # (upstream column, downstream column or table, kind): column lineage read from SQL (connectors.lineage)
    column_edges: set[tuple[str, str, str]] = field(default_factory=set)


def _table_type(table: TableMeta) -> str:
    if table.kind in VIEW_KINDS or table.properties.get("materialized") in {"view", "ephemeral"}:
        return "view"
    return "table"


def _tags(values: list[str]) -> list[str]:
    if not values:  # most resources have none; this runs once per column
        return []
    return sorted({t.strip().lower() for t in values if t and t.strip()})


def plan(snapshot: Snapshot) -> Plan:
    db = snapshot.database
    db_ext = f"db:{db}"
    resources = [Planned(db_ext, "database", db, db)]
    schemas = dict(snapshot.schemas)
    for table in snapshot.tables:
        schemas.setdefault(table.schema, "")
    for schema, description in sorted(schemas.items()):
        resources.append(
            Planned(f"schema:{schema}", "schema", schema, f"{db}.{schema}", db_ext, source_description=description)
        )
    by_name: dict[tuple[str, str], str] = {}
    by_uid: dict[str, str] = {}
    relations: dict[str, tuple[str, str, str]] = {}
    table_ext: dict[int, str] = {}
    for index, table in enumerate(snapshot.tables):
        ext = f"node:{table.unique_id}" if table.unique_id else f"table:{table.schema}.{table.name}"
        table_ext[index] = ext
        by_name.setdefault((table.schema, table.name), ext)
        if table.unique_id:
            by_uid[table.unique_id] = ext
        if table.relation:
            relations[ext] = table.relation
    edges: set[tuple[str, str]] = set()
    for index, table in enumerate(snapshot.tables):
        ext = table_ext[index]
        # dbt's unique_id is what dbt users know, and it stays unique where a seed and a source share a relation.
        qualified = table.unique_id or f"{db}.{table.schema}.{table.name}"
        properties: dict[str, Any] = dict(table.properties)
        if table.foreign_keys:
            properties["foreign_keys"] = [
                f"({', '.join(fk.columns)}) -> {fk.ref_schema}.{fk.ref_table}({', '.join(fk.ref_columns)})"
                for fk in table.foreign_keys
            ]
        if table.unique_id:
            properties["unique_id"] = table.unique_id
        if table.relation:
            properties["relation"] = ".".join(table.relation)
        if table.tests:
            properties["tests"] = list(table.tests)
        references = {
            column: f"{fk.ref_schema}.{fk.ref_table}.{ref}"
            for fk in table.foreign_keys
            for column, ref in zip(fk.columns, fk.ref_columns, strict=False)
        }
        resources.append(
            Planned(
                ext,
                _table_type(table),
                table.name,
                qualified,
                f"schema:{table.schema}",
                kind=table.kind,
                source_description=table.description,
                definition=table.definition,
                properties=properties,
                source_tags=_tags(table.tags),
                source_owner=table.owner,
                row_estimate=table.row_estimate,
                popularity=float(table.popularity),
                columns=[(c.name, c.description) for c in sorted(table.columns, key=lambda c: c.ordinal)],
            )
        )
        for column in table.columns:
            column_properties: dict[str, Any] = {"nullable": column.nullable}
            if column.name in references:
                column_properties["references"] = references[column.name]
            resources.append(
                Planned(
                    f"{ext}/{column.name}",
                    "column",
                    column.name,
                    f"{qualified}.{column.name}",
                    ext,
                    source_description=column.description,
                    data_type=column.data_type,
                    ordinal=column.ordinal,
                    is_primary_key=column.is_primary_key,
                    properties=column_properties,
                    source_tags=_tags(column.tags),
                )
            )
        for upstream_ext in _upstream(table.upstream_ids, table.upstream, by_uid, by_name):
            if upstream_ext != ext:
                edges.add((upstream_ext, ext))
    for dashboard in snapshot.dashboards:
        ext = f"dashboard:{dashboard.unique_id or dashboard.name}"
        properties = {"url": dashboard.url} if dashboard.url else {}
        resources.append(
            Planned(
                ext,
                "dashboard",
                dashboard.name,
                f"{db}.{dashboard.name}",
                db_ext,
                source_description=dashboard.description,
                properties=properties,
                source_tags=_tags(dashboard.tags),
                source_owner=dashboard.owner,
            )
        )
        for upstream_ext in _upstream(dashboard.upstream_ids, dashboard.upstream, by_uid, by_name):
            edges.add((upstream_ext, ext))
    column_edges = _column_edges(snapshot.tables, table_ext, by_uid, by_name)
    _plan_semantic_layer_and_tests(snapshot, db_ext, by_uid, resources, edges)
    return Plan(resources, edges, relations, column_edges)


def _column_edges(
    tables: list[TableMeta], table_ext: dict[int, str], by_uid: dict[str, str], by_name: dict[tuple[str, str], str]
) -> set[tuple[str, str, str]]:
    """Column edges by external id; an edge naming a column the catalog does not hold is dropped."""
    columns = {(table_ext[i], c.name.lower()): c.name for i, table in enumerate(tables) for c in table.columns}
    result: set[tuple[str, str, str]] = set()
    for index, table in enumerate(tables):
        ext = table_ext[index]
        for edge in table.column_lineage:
            source = by_uid.get(edge.source_id) if edge.source_id else by_name.get(edge.source)
            up = columns.get((source or "", edge.source_column.lower()))
            if source is None or up is None:
                continue
            if edge.column:
                down = columns.get((ext, edge.column.lower()))
                if down is None:
                    continue
                result.add((f"{source}/{up}", f"{ext}/{down}", edge.kind))
            else:
                result.add((f"{source}/{up}", ext, edge.kind))
    return result


def _upstream(
    ids: list[str], names: list[tuple[str, str]], by_uid: dict[str, str], by_name: dict[tuple[str, str], str]
) -> list[str]:
    """External ids of what something reads: by dbt unique_id when given (names can be ambiguous), else by name."""
    if ids:
        return [by_uid[i] for i in ids if i in by_uid]
    return [by_name[n] for n in names if n in by_name]


def _plan_semantic_layer_and_tests(
    snapshot: Snapshot, db_ext: str, by_uid: dict[str, str], resources: list[Planned], edges: set[tuple[str, str]]
) -> None:
    """dbt semantic models and metrics, children of the project's database like exposures, read from what they are
    built on; and each data test with its last result on the table and the column it tests."""
    ext_of = dict(by_uid)
    for item in snapshot.metrics:
        ext_of[item.unique_id] = f"{item.kind}:{item.unique_id or item.name}"
    for item in snapshot.metrics:
        ext = f"{item.kind}:{item.unique_id or item.name}"
        resources.append(
            Planned(
                ext,
                item.kind,
                item.name,
                item.unique_id or f"{snapshot.database}.{item.name}",
                db_ext,
                kind=item.metric_type or item.kind,
                source_description=item.description,
                properties={**item.properties, "unique_id": item.unique_id},
                source_tags=_tags(item.tags),
                source_owner=item.owner,
                # A semantic model's entities, measures and dimensions are found by their names, like columns.
                columns=[
                    (str(part["name"]), str(part.get("description") or ""))
                    for key in ("entities", "measures", "dimensions")
                    for part in item.properties.get(key) or []
                ],
            )
        )
        for upstream in item.upstream_ids:
            if upstream in ext_of and ext_of[upstream] != ext:
                edges.add((ext_of[upstream], ext))
    _plan_test_results(snapshot, by_uid, resources)


def _plan_test_results(snapshot: Snapshot, by_uid: dict[str, str], resources: list[Planned]) -> None:
    """properties["data_tests"] of tested tables and columns: [{name, column, status, at, failures?}]; status and at
    are "" when no run result is known. properties["tests"] keeps the plain "name(column)" labels."""
    if not snapshot.data_tests:
        return
    planned = {p.external_id: p for p in resources}
    columns = {(p.parent, p.name.lower()): p for p in resources if p.type == "column"}
    for test in snapshot.data_tests:
        table_ext = by_uid.get(test.attached_id)
        if table_ext is None or table_ext not in planned:
            continue
        result: dict[str, Any] = {"name": test.name, "column": test.column, "status": test.status, "at": test.at}
        if test.failures is not None:
            result["failures"] = test.failures
        planned[table_ext].properties.setdefault("data_tests", []).append(result)
        column = columns.get((table_ext, test.column.lower())) if test.column else None
        if column is not None:
            column.properties.setdefault("data_tests", []).append(dict(result))

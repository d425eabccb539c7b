"""Links dbt nodes to the warehouse tables they build (or, for sources, read), making them siblings.

A linked node and its table are one asset with two faces: the node (and each of its columns) names
its warehouse face in `sibling_id`, and in `gate_id` the warehouse resource whose viewers alone may
see it (access.visibility). A node column's sibling is the table's column of the same name (exact
spelling first, else the one that matches ignoring case); a node column with none is gated by the table.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select

from datadesk.catalog.models import Integration, Lineage, Resource
from datadesk.db import StoreSession

TABLE_TYPES = ("table", "view")
SEMANTIC_TYPES = ("semantic_model", "metric")
# The gate of what stands over tables seen by different Teams: no Team's resource, so admins alone see it.
ADMINS_ONLY = "admins-only"
CHUNK = 500
_table = cast(Table, Resource.__table__)


def relink_dbt(session: StoreSession, workspace_id: str) -> int:
    """Recompute every dbt_link lineage edge and every sibling of the workspace; returns how many links."""
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
    table_of: dict[str, str] = {}
    for node_id, kind, relation in dbt_nodes:
        target = by_qualified.get(relation)
        if target is None:
            candidates = by_suffix.get(".".join(relation.split(".")[-2:]), [])
            target = candidates[0] if len(candidates) == 1 else None
        if target is None:
            continue
        table_of[node_id] = target
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
    plan = _siblings(session, table_of)
    plan.update(_semantic_gates(session, table_of))
    _write_siblings(session, plan)
    return len(wanted)


def _semantic_gates(session: StoreSession, table_of: dict[str, str]) -> dict[str, tuple[str | None, str]]:
    """A semantic model names its model's columns, and a metric its measures: each is gated like what it reads.

    One gate for all it reads: that gate; several different ones: admins only, as no one rule says who sees all.
    """
    query = select(Resource.id, Resource.type).where(Resource.type.in_(SEMANTIC_TYPES), Resource.deleted_at.is_(None))
    layer = {rid: kind for rid, kind in session.execute(query)}
    reads: dict[str, set[str]] = defaultdict(set)
    ids = sorted(layer)
    for start in range(0, len(ids), CHUNK):
        for up, down in session.execute(
            select(Lineage.upstream_id, Lineage.downstream_id).where(
                Lineage.downstream_id.in_(ids[start : start + CHUNK]), Lineage.origin == "sync"
            )
        ):
            reads[down].add(up)
    gates: dict[str, str] = {}
    for _ in range(len(layer) + 1):  # metrics built on metrics: until nothing changes
        changed = False
        for rid in ids:
            found = {gates.get(up) or table_of.get(up) for up in reads[rid]} - {None}
            gate = found.pop() if len(found) == 1 else ADMINS_ONLY if found else None
            if gate is not None and gates.get(rid) != gate:
                gates[rid], changed = gate, True
        if not changed:
            break
    return {rid: (None, gate) for rid, gate in gates.items()}


def _siblings(session: StoreSession, table_of: dict[str, str]) -> dict[str, tuple[str | None, str]]:
    """(sibling_id, gate_id) of every linked node and of each of its columns."""
    plan: dict[str, tuple[str | None, str]] = {node: (table, table) for node, table in table_of.items()}
    columns = _columns_of(session, [*table_of, *set(table_of.values())])
    warehouse: dict[str, dict[str, str]] = defaultdict(dict)  # table -> exact name -> column
    folded: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))  # table -> lower name -> columns
    for table in set(table_of.values()):
        for column_id, name in columns.get(table, []):
            warehouse[table][name] = column_id
            folded[table][name.lower()].append(column_id)
    for node, table in table_of.items():
        for column_id, name in columns.get(node, []):
            same = warehouse[table].get(name)
            if same is None:
                alike = folded[table].get(name.lower(), [])
                same = alike[0] if len(alike) == 1 else None
            plan[column_id] = (same, same or table)
    return plan


def _columns_of(session: StoreSession, parent_ids: list[str]) -> dict[str, list[tuple[str, str]]]:
    result: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for start in range(0, len(parent_ids), CHUNK):
        for column_id, parent_id, name in session.execute(
            select(Resource.id, Resource.parent_id, Resource.name).where(
                Resource.parent_id.in_(parent_ids[start : start + CHUNK]),
                Resource.type == "column",
                Resource.deleted_at.is_(None),
            )
        ):
            result[parent_id or ""].append((column_id, name))
    return result


def _write_siblings(session: StoreSession, plan: dict[str, tuple[str | None, str]]) -> None:
    """Set the planned siblings and gates, and clear those no longer linked; rows already right are left alone."""
    current = {
        row.id: (row.sibling_id, row.gate_id)
        for row in session.execute(
            select(Resource.id, Resource.sibling_id, Resource.gate_id).where(Resource.gate_id.is_not(None))
        )
    }
    changes: list[dict[str, Any]] = [
        {"b_id": rid, "b_sibling": sibling, "b_gate": gate}
        for rid, (sibling, gate) in plan.items()
        if current.get(rid) != (sibling, gate)
    ]
    changes += [{"b_id": rid, "b_sibling": None, "b_gate": None} for rid in current if rid not in plan]
    if changes:
        session.flush()
        statement = (
            _table.update()
            .where(_table.c.id == bindparam("b_id"))
            .values(sibling_id=bindparam("b_sibling"), gate_id=bindparam("b_gate"))
        )
        session.connection().execute(statement, changes)
        # Objects already loaded in this session would otherwise keep the old values.
        session.expire_all()

"""Retrieval: catalog search under the caller's visibility, expanded to tables' columns, lineage and glossary."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from datadesk.access.caller import Caller
from datadesk.ai import egress
from datadesk.catalog import search as catalog_search
from datadesk.catalog import service as catalog
from datadesk.catalog.models import Resource
from datadesk.db import StoreSession

BUDGET_BYTES = 9000
MAX_TABLES = 10
SEARCH_DEPTH = 40
TABLE_TYPES = ("table", "view")
NOTE_TYPES = ("glossary_term", "document", "dashboard")


@dataclass
class Ranked:
    tables: list[Resource]  # best first
    notes: list[Resource]  # glossary terms, documents, dashboards that matched


def rank(session: StoreSession, caller: Caller, question: str) -> Ranked:
    """Visible tables most likely to answer the question (a table scores through its columns too)."""
    hits = catalog_search.search(session=session, caller=caller, q=question, limit=SEARCH_DEPTH, any_words=True)
    by_id = {r.id: r for r in catalog.visible_many(session, caller, [h.id for h in hits])}
    table_score: dict[str, float] = defaultdict(float)
    column_bonus: dict[str, float] = defaultdict(float)
    notes: list[Resource] = []
    for hit in hits:
        resource = by_id.get(hit.id)
        if resource is None:
            continue
        if resource.type in TABLE_TYPES:
            table_score[resource.id] = max(table_score[resource.id], hit.score)
        elif resource.type == "column" and resource.parent_id:
            # Several matching columns add up, but less than a table's own match.
            column_bonus[resource.parent_id] += hit.score * 0.5
        elif resource.type in NOTE_TYPES:
            notes.append(resource)
    for table_id, bonus in column_bonus.items():
        table_score[table_id] += bonus
    # Tables a matching glossary term or document is about rank as if they matched a little.
    for note in notes:
        for target in catalog.details(session, caller, [note], with_columns=False)[0].links:
            if target.type in TABLE_TYPES:
                table_score[target.id] += 1.0
    ordered = sorted(table_score, key=lambda t: -table_score[t])[:MAX_TABLES]
    tables = catalog.visible_many(session, caller, ordered)
    return Ranked(tables=tables, notes=notes[:5])


def retrieve(
    session: StoreSession, caller: Caller, question: str, policy: egress.Policy, budget: int = BUDGET_BYTES
) -> list[dict[str, Any]]:
    """Cards for the question within a size budget: notes first (small), then tables best first."""
    ranked = rank(session, caller, question)
    resources = ranked.notes + ranked.tables
    details = catalog.details(session, caller, resources)
    lineage_ids: dict[str, egress.Neighbours] = {}
    for detail in details:
        if detail.resource.type in TABLE_TYPES:
            up, down = catalog.lineage(session=session, caller=caller, resource_id=detail.resource.id)
            lineage_ids[detail.resource.id] = egress.Neighbours(up, down)
    neighbour_ids = [n.id for nb in lineage_ids.values() for n in nb.upstream + nb.downstream]
    neighbour_ids += [x.id for d in details for x in d.links]
    tags = catalog.tags_of(session, neighbour_ids)
    cards: list[dict[str, Any]] = []
    used = 0
    for detail in details:
        item = egress.card(detail, policy, lineage_ids.get(detail.resource.id), tags)
        if item is None:
            continue
        size = len(json.dumps(item, ensure_ascii=False))
        if used + size > budget:
            trimmed = _trim(item, budget - used)
            if trimmed is None:
                continue
            item, size = trimmed, len(json.dumps(trimmed, ensure_ascii=False))
        cards.append(item)
        used += size
    return cards


def _trim(item: dict[str, Any], room: int) -> dict[str, Any] | None:
    """A smaller card (columns without descriptions) if that fits the room left."""
    if "columns" not in item:
        return None
    smaller = dict(item)
    smaller["columns"] = [{k: v for k, v in c.items() if k in ("name", "type")} for c in item["columns"]]
    smaller.pop("upstream", None)
    smaller.pop("downstream", None)
    return smaller if len(json.dumps(smaller, ensure_ascii=False)) <= room else None


def table_ids(session: StoreSession, cards: list[dict[str, Any]]) -> list[str]:
    """The table and view ids among cards, in order."""
    ids = [c["id"] for c in cards]
    types = dict(session.execute(select(Resource.id, Resource.type).where(Resource.id.in_(ids))).all())
    return [i for i in ids if types.get(i) in TABLE_TYPES]

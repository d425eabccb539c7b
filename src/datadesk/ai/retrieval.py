"""Retrieval: catalog search under the caller's visibility, expanded to tables' columns, lineage and glossary."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from datadesk.access.caller import Caller
from datadesk.ai import cards, egress
from datadesk.catalog import search as catalog_search
from datadesk.catalog import service as catalog
from datadesk.catalog.models import Resource
from datadesk.db import StoreSession

BUDGET_BYTES = 9000
MAX_TABLES = 10
SEARCH_DEPTH = 40
TABLE_TYPES = ("table", "view")
NOTE_TYPES = ("glossary_term", "document", "dashboard")
SOURCE_AFFINITY = 6.0


@dataclass
class Ranked:
    tables: list[Resource]  # best first
    notes: list[Resource]  # glossary terms, documents, dashboards that matched


def rank(session: StoreSession, caller: Caller, question: str) -> Ranked:
    """Visible tables most likely to answer the question (a table scores through its columns too)."""
    hits = catalog_search.search(session=session, caller=caller, q=question, limit=SEARCH_DEPTH, any_words=True)
    table_score: dict[str, float] = defaultdict(float)
    column_bonus: dict[str, float] = defaultdict(float)
    loaded: dict[str, Resource] = {}
    notes: list[Resource] = []
    for hit in hits:
        resource = hit.resource
        if resource.type in TABLE_TYPES:
            table_score[resource.id] = max(table_score[resource.id], hit.score)
            loaded[resource.id] = resource
        elif resource.type == "column" and resource.parent_id:
            # Several matching columns add up, but less than a table's own match.
            column_bonus[resource.parent_id] += hit.score * 0.5
        elif resource.type in NOTE_TYPES:
            notes.append(resource)
    for table_id, bonus in column_bonus.items():
        table_score[table_id] += bonus
    # Tables a matching glossary term or document is about rank as if they matched a little.
    for target in catalog.linked(session, caller, notes):
        if target.type in TABLE_TYPES:
            table_score[target.id] += 1.0
            loaded[target.id] = target
    # A question is usually about one source: tables of the best-matching integration rank a little higher.
    missing = [i for i in table_score if i not in loaded]
    loaded.update({r.id: r for r in catalog.visible_many(session, caller, missing)})
    candidates = [loaded[i] for i in table_score if i in loaded]
    source_score: dict[str | None, float] = defaultdict(float)
    for table in candidates:
        source_score[table.integration_id] += table_score[table.id]
    best = max(source_score.values(), default=0.0) or 1.0
    for table in candidates:
        table_score[table.id] += SOURCE_AFFINITY * source_score[table.integration_id] / best
    ordered = sorted(candidates, key=lambda t: -table_score[t.id])[:MAX_TABLES]
    return Ranked(tables=ordered, notes=notes[:5])


def retrieve(
    session: StoreSession, caller: Caller, question: str, policy: egress.Policy, budget: int = BUDGET_BYTES
) -> list[dict[str, Any]]:
    """Cards for the question within a size budget: notes first (small), then tables best first."""
    ranked = rank(session, caller, question)
    built = cards.build(session, caller, policy, ranked.notes + ranked.tables, lineage=lambda r: r.type in TABLE_TYPES)
    # Every ranked table goes in, compact, first; then the best ones are given full detail while room lasts,
    # so a long table never crowds the next nine out.
    full = [c.card for c in built]
    compact = [_compact(c.card) if c.card and c.detail.resource.type in TABLE_TYPES else c.card for c in built]
    kept = [i for i, item in enumerate(compact) if item is not None]
    used = sum(_size(compact[i]) for i in kept)
    while used > budget and kept:
        used -= _size(compact[kept.pop()])
    for i in kept:
        richer = full[i]
        if richer is not None and richer is not compact[i]:
            extra = _size(richer) - _size(compact[i])
            if used + extra <= budget:
                compact[i], used = richer, used + extra
    return [compact[i] for i in kept]  # type: ignore[misc]


def _size(item: dict[str, Any] | None) -> int:
    return len(json.dumps(item, ensure_ascii=False)) if item else 0


def _compact(item: dict[str, Any]) -> dict[str, Any]:
    """A table's card with column names only and a short description."""
    small = {k: v for k, v in item.items() if k not in ("columns", "upstream", "downstream", "description")}
    if item.get("description"):
        small["description"] = item["description"][:200]
    if item.get("columns"):
        small["column_names"] = [c["name"] for c in item["columns"]]
    return small


def table_ids(session: StoreSession, cards: list[dict[str, Any]]) -> list[str]:
    """The table and view ids among cards, in order."""
    ids = [c["id"] for c in cards]
    types = dict(session.execute(select(Resource.id, Resource.type).where(Resource.id.in_(ids))).all())
    return [i for i in ids if types.get(i) in TABLE_TYPES]

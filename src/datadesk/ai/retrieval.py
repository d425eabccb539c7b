"""Retrieval: catalog search under the caller's visibility, expanded to tables' columns, lineage and glossary.

Tables are ranked by full-text search and, when this server has the embedding model, by the similarity of
the question to each resource's card (catalog.semantic); the two rankings are fused by reciprocal rank.
Both only ever see what the caller may: semantic matches are kept through access.visibility, and the tables
they name are loaded through catalog.visible_many.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select

from datadesk.access.caller import Caller
from datadesk.access.visibility import visible_resources
from datadesk.ai import cards, egress
from datadesk.catalog import search as catalog_search
from datadesk.catalog import semantic
from datadesk.catalog import service as catalog
from datadesk.catalog.models import Resource
from datadesk.db import StoreSession
from datadesk.embedding import embedder

log = logging.getLogger("datadesk.retrieval")

BUDGET_BYTES = 6000  # bytes of cards; the first request stays under 8 KB on average (bench/retrieval.py)
MAX_TABLES = 10
SEARCH_DEPTH = 40
TABLE_TYPES = ("table", "view")
NOTE_TYPES = ("glossary_term", "document", "dashboard")
SOURCE_AFFINITY = 6.0
# Semantic ranking: the visible tables most like the question, fused with full-text search's by reciprocal rank.
SEMANTIC_DEPTH = 40
SEMANTIC_SCAN = 4000  # most similar vectors checked for visibility, for a member of a small Team in a big catalog
VISIBILITY_CHUNK = 200
RRF_K = 2.0  # steep: the first few of each ranking count most (bench/retrieval.py)
FULL_TEXT_WEIGHT = 1.0
SEMANTIC_WEIGHT = 1.0
COLUMN_SIMILARITY = 0.9  # a described column that matches speaks for its table, a little less than the table
FUSED_AFFINITY = 0.4  # share of the best fused score a table gets from its integration's standing
NOTE_SIMILARITY = 0.5  # a glossary term or document this close joins the notes
SEMANTIC_FLOOR = 0.2  # below this a card is unrelated ("please run these statements"): it adds bytes, not recall


@dataclass
class Ranked:
    tables: list[Resource]  # best first
    notes: list[Resource]  # glossary terms, documents, dashboards that matched


@dataclass
class _Similar:
    tables: list[tuple[Resource, float]]  # visible, best first
    notes: list[Resource]


def rank(session: StoreSession, caller: Caller, question: str) -> Ranked:
    """Visible tables most likely to answer the question (a table scores through its columns too)."""
    similar = _similar(session, caller, question)
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
    if similar.notes:
        notes = _interleave(notes, similar.notes)
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
    ordered = sorted(candidates, key=lambda t: -table_score[t.id])
    if similar.tables:
        ordered = _fuse(ordered, similar.tables)
    return Ranked(tables=ordered[:MAX_TABLES], notes=notes[:5])


def _fuse(full_text: list[Resource], similar: list[tuple[Resource, float]]) -> list[Resource]:
    """Reciprocal rank fusion of the full-text and the semantic rankings."""
    score: dict[str, float] = defaultdict(float)
    tables: dict[str, Resource] = {}
    for weight, ranking in ((FULL_TEXT_WEIGHT, full_text), (SEMANTIC_WEIGHT, [t for t, _ in similar])):
        for position, table in enumerate(ranking, 1):
            score[table.id] += weight / (RRF_K + position)
            tables.setdefault(table.id, table)
    if FUSED_AFFINITY:
        source_score: dict[str | None, float] = defaultdict(float)
        for table in tables.values():
            source_score[table.integration_id] += score[table.id]
        best = max(source_score.values(), default=0.0) or 1.0
        top = max(score.values(), default=0.0)
        for table in tables.values():
            score[table.id] += FUSED_AFFINITY * top * source_score[table.integration_id] / best
    return sorted(tables.values(), key=lambda t: -score[t.id])


def _interleave(full_text: list[Resource], similar: list[Resource]) -> list[Resource]:
    """Notes of both rankings, by reciprocal rank fusion."""
    score: dict[str, float] = defaultdict(float)
    notes: dict[str, Resource] = {}
    for ranking in (full_text, similar):
        for position, note in enumerate(ranking, 1):
            score[note.id] += 1.0 / (RRF_K + position)
            notes.setdefault(note.id, note)
    return sorted(notes.values(), key=lambda n: -score[n.id])


def _similar(session: StoreSession, caller: Caller, question: str) -> _Similar:
    """The visible tables (through their cards and described columns) and notes most like the question."""
    model = embedder()
    if model is None:
        return _Similar([], [])
    try:
        index = semantic.matrix(session, caller.workspace_id, model)
        if not index.ids:
            return _Similar([], [])
        scores = index.vectors @ model.embed([question])[0]
    except Exception:  # semantic ranking is an addition: without it, full-text search still answers
        log.exception("semantic ranking failed; full-text search alone ranks this question")
        return _Similar([], [])
    scan = min(SEMANTIC_SCAN, int((scores >= SEMANTIC_FLOOR).sum()))
    if scan == 0:
        return _Similar([], [])
    nearest = np.argpartition(-scores, scan - 1)[:scan]
    nearest = nearest[np.argsort(-scores[nearest], kind="stable")]
    table_score: dict[str, float] = {}
    note_score: dict[str, float] = {}
    for start in range(0, scan, VISIBILITY_CHUNK):
        similarity = {index.ids[i]: float(scores[i]) for i in nearest[start : start + VISIBILITY_CHUNK]}
        # Only what the caller may see (the ids alone, cheaply); a column or a dbt face speaks for its table.
        seen = session.execute(
            select(Resource.id, Resource.type, Resource.parent_id, Resource.sibling_id).where(
                Resource.id.in_(list(similarity)), visible_resources(caller)
            )
        )
        for rid, kind, parent_id, sibling_id in seen:
            value = similarity[rid]
            if kind == "column" and parent_id:
                target, value = parent_id, value * COLUMN_SIMILARITY
            elif kind in TABLE_TYPES:
                target = sibling_id or rid
            else:
                if kind in NOTE_TYPES and value >= NOTE_SIMILARITY:
                    note_score[rid] = value
                continue
            table_score[target] = max(value, table_score.get(target, -1.0))
        if len(table_score) >= SEMANTIC_DEPTH:
            break
    best = sorted(table_score, key=lambda i: -table_score[i])[:SEMANTIC_DEPTH]
    # The tables a column or a dbt face spoke for are checked again, here with everything else the policy asks.
    tables = [t for t in catalog.visible_many(session, caller, best) if t.type in TABLE_TYPES]
    notes = catalog.visible_many(session, caller, sorted(note_score, key=lambda i: -note_score[i]))
    return _Similar([(t, table_score[t.id]) for t in tables], notes)


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
        small["description"] = egress.clip(item["description"], 200)
    if item.get("columns"):
        small["column_names"] = [c["name"] for c in item["columns"]]
    return small


def table_ids(session: StoreSession, cards: list[dict[str, Any]]) -> list[str]:
    """The table and view ids among cards, in order."""
    ids = [c["id"] for c in cards]
    types = dict(session.execute(select(Resource.id, Resource.type).where(Resource.id.in_(ids))).all())
    return [i for i in ids if types.get(i) in TABLE_TYPES]

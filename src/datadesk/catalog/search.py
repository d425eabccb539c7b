"""Full-text search over the catalog: the text indexed, the query's words, and the ranked, visible hits.

The index itself (SQLite's FTS5 table, PostgreSQL's tsvectors, the words standing for Teams, the match
query) is catalog.search_index's. Here: the words of a resource's name and text that go in it, the
workspace's vocabulary (typo corrections, prefix expansions), and ranking the index's candidates among
the resources the caller can see (visible_resources(), inside the query) by relevance, popularity,
name and type.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from rapidfuzz.distance import DamerauLevenshtein
from sqlalchemy import Row, Table, and_, exists, func, select

from datadesk.access.caller import Caller
from datadesk.access.visibility import visible_resources
from datadesk.catalog import search_index, siblings
from datadesk.catalog.models import Resource, ResourceTag, ResourceTeam, SearchTerm
from datadesk.db import StoreSession, insert_missing

_terms = cast(Table, SearchTerm.__table__)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_WORD = re.compile(r"[^0-9a-z]+")
MAX_QUERY_WORDS = 8
MIN_TERM, MAX_TERM = 2, 40
BODY_LIMIT = 4000
POPULARITY_WEIGHT = 0.15
EXACT_NAME_BOOST = 3.0
# People mostly look for tables; a column or schema matching as well as a table ranks below it.
TYPE_BOOST = {
    "table": 1.0,
    "view": 1.0,
    "glossary_term": 0.8,
    "document": 0.6,
    "dashboard": 0.6,
    "metric": 0.6,
    "semantic_model": 0.4,
    "schema": 0.2,
    "database": 0.2,
    "column": 0.0,
}


def words(text: str) -> list[str]:
    """Lowercase words, splitting snake_case, kebab-case and camelCase."""
    return [w for w in _NON_WORD.split(_CAMEL.sub(" ", text).lower()) if w]


def index_fields(
    *,
    name: str,
    qualified_name: str,
    description: str,
    definition: str = "",
    tags: Iterable[str] = (),
    data_type: str = "",
    columns: Iterable[tuple[str, str]] = (),
) -> tuple[str, str]:
    """(search_name, search_body) for one resource; a table's columns' names and descriptions go in its body."""
    name_words = words(name)
    search_name = " ".join(dict.fromkeys([*name_words, name.lower()]))
    parts = [" ".join(words(qualified_name)), description, " ".join(tags), data_type]
    for column_name, column_description in columns:
        parts.append(" ".join(words(column_name)))
        if column_description:
            parts.append(column_description[:200])
    if definition:
        parts.append(definition[:1000])
    return search_name, " ".join(p for p in parts if p)[:BODY_LIMIT]


def terms_of(*texts: str) -> set[str]:
    return {w for text in texts for w in words(text) if MIN_TERM <= len(w) <= MAX_TERM and not w.isdigit()}


def remember_terms(session: StoreSession, workspace_id: str, terms: set[str]) -> None:
    """Add new words to the workspace's vocabulary (used to correct typos in queries)."""
    if not terms:
        return
    known = set(session.scalars(select(SearchTerm.term).where(SearchTerm.workspace_id == workspace_id)))
    fresh = sorted(terms - known)
    if fresh:
        insert_missing(session, _terms, [{"workspace_id": workspace_id, "term": t} for t in fresh])


@dataclass(frozen=True)
class Face:
    """Another face of a hit's asset (a dbt node of a warehouse table, or the table of a node)."""

    id: str
    type: str
    name: str
    qualified_name: str


@dataclass(frozen=True)
class Hit:
    id: str
    type: str
    name: str
    qualified_name: str
    description: str
    score: float
    # The row search loaded (visible to the caller), so no caller has to load it again.
    resource: Resource = field(compare=False, repr=False)
    siblings: tuple[Face, ...] = ()


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3]
    if len(word) > 4 and word.endswith("sses"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _corrections(session: StoreSession, workspace_id: str, word: str) -> list[str]:
    """Known words within a small edit distance of an unknown query word."""
    if len(word) < 4:
        return []
    found = session.scalar(
        select(SearchTerm.term)
        .where(SearchTerm.workspace_id == workspace_id, SearchTerm.term >= word, SearchTerm.term < word + "\uffff")
        .limit(1)
    )
    if found is not None:
        return []
    budget = 1 if len(word) <= 5 else 2
    candidates = session.scalars(
        select(SearchTerm.term).where(
            SearchTerm.workspace_id == workspace_id,
            SearchTerm.term >= word[:2],
            SearchTerm.term < word[:2] + "\uffff",
            func.length(SearchTerm.term).between(len(word) - budget, len(word) + budget),
        )
    )
    scored = sorted(
        (d, t) for t in candidates if (d := DamerauLevenshtein.distance(word, t, score_cutoff=budget)) <= budget
    )
    return [t for _, t in scored[:3]]


STOPWORDS = frozenset(
    (
        "a",
        "about",
        "all",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "been",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "give",
        "had",
        "has",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "list",
        "many",
        "me",
        "much",
        "my",
        "of",
        "on",
        "or",
        "our",
        "please",
        "show",
        "tell",
        "that",
        "the",
        "their",
        "there",
        "these",
        "this",
        "those",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    )
)
MAX_QUESTION_WORDS = 16


def query_words(session: StoreSession, workspace_id: str, q: str, *, question: bool = False) -> list[list[str]]:
    """Each query word with its typo corrections: [[prefix, correction, ...], ...].

    A question (any_words search) drops stop words and keeps more words.
    """
    result = []
    found = list(dict.fromkeys(words(q)))
    if question:
        found = [w for w in found if w not in STOPWORDS] or found
    for word in found[: MAX_QUESTION_WORDS if question else MAX_QUERY_WORDS]:
        stem = _stem(word)
        result.append([stem, *[c for c in _corrections(session, workspace_id, word) if not c.startswith(stem)]])
    return result


MAX_EXPANSIONS = 8


def _lexemes(session: StoreSession, workspace_id: str, groups: list[list[str]]) -> list[list[str]]:
    """tsquery operands for each word: itself and the few known words it begins, else the word as a prefix.

    GIN reads a prefix's every posting into a bitmap (3-5x slower for common words at a million resources),
    while exact words let it skip through the rarest one. The vocabulary holds the indexed words.
    """
    result = []
    for group in groups:
        operands: list[str] = []
        for word in group:
            known = list(
                session.scalars(
                    select(SearchTerm.term)
                    .where(
                        SearchTerm.workspace_id == workspace_id,
                        SearchTerm.term >= word,
                        SearchTerm.term < word + "\uffff",
                    )
                    .limit(MAX_EXPANSIONS + 1)
                )
            )
            exact = 0 < len(known) <= MAX_EXPANSIONS and all(_NON_WORD.search(t) is None for t in known)
            # The word itself too: the vocabulary leaves out numbers, which the index holds.
            operands.extend([word, *known] if exact else [f"{word}:*"])
        result.append(list(dict.fromkeys(operands)))
    return result


def search(
    *,
    session: StoreSession,
    caller: Caller,
    q: str,
    type: str | None = None,
    tag: str | None = None,
    team_id: str | None = None,
    integration_id: str | None = None,
    limit: int = 20,
    any_words: bool = False,
) -> list[Hit]:
    """Ranked resources matching q that the caller can see; visibility and filters inside the queries.

    any_words: match resources having any of the words (ranked by how well), for questions in plain language.

    Each asset is one hit: a dbt node that matches stands as its warehouse table (with its best score),
    naming its other faces in `siblings`; searching within one integration keeps that integration's own.

    First the index alone picks the best candidates among resources of the caller's Teams (cheap even
    with a million rows), then one query keeps those the caller can see and that pass the filters, and
    they are ranked with popularity, name and type. When that leaves too few, the whole match is ranked.
    """
    groups = query_words(session, caller.workspace_id, q, question=any_words)
    scope = search_index.scope_tokens(session, caller)
    if not groups or not scope:
        return []
    filters = _Filters(type, tag.strip().lower() if tag else None, team_id, integration_id)
    cap = FILTERED_CANDIDATES if filters.any else CANDIDATES
    sqlite = session.get_bind().dialect.name == "sqlite"
    terms = groups if sqlite else _lexemes(session, caller.workspace_id, groups)
    # Names first: they are the better matches and far fewer, so ranking them is cheap.
    hits: list[Hit] = []
    for names_only, candidate_cap in ((True, cap), (False, cap), (False, None)):
        candidates = search_index.candidates(
            session, sqlite, terms, scope, candidate_cap, names_only=names_only, any_words=any_words
        )
        hits = _rank(session, caller, q, sqlite, candidates, filters, limit)
        if len(hits) >= limit or (candidate_cap is not None and len(candidates) < candidate_cap and not names_only):
            break
    return hits


CANDIDATES = 200
FILTERED_CANDIDATES = 2000


# What ranking reads of each candidate (up to thousands), as plain rows: whole resources are loaded for the hits.
_RANKING_COLUMNS = (
    Resource.id,
    Resource.type,
    Resource.name,
    Resource.qualified_name,
    Resource.sibling_id,
    Resource.source_popularity,
    Resource.query_count,
    Resource.description,
    Resource.definition,
)


@dataclass(frozen=True)
class _Filters:
    type: str | None
    tag: str | None
    team_id: str | None
    integration_id: str | None

    @property
    def any(self) -> bool:
        return any((self.type, self.tag, self.team_id, self.integration_id))


def _rank(
    session: StoreSession,
    caller: Caller,
    q: str,
    sqlite: bool,
    candidates: dict[Any, float],
    filters: _Filters,
    limit: int,
) -> list[Hit]:
    if not candidates:
        return []
    key = search_index.index_key(sqlite)
    phrase = " ".join(words(q))
    exact_names = {q.strip().lower(), phrase, phrase.replace(" ", "_")}
    found: list[tuple[float, Row[Any]]] = []
    keys = list(candidates)
    for start in range(0, len(keys), 5000):
        query = select(*_RANKING_COLUMNS, key.label("index_key")).where(
            key.in_(keys[start : start + 5000]), visible_resources(caller)
        )
        if filters.type:
            query = query.where(Resource.type == filters.type)
        if filters.integration_id:
            query = query.where(Resource.integration_id == filters.integration_id)
        if filters.tag:
            query = query.where(
                exists().where(and_(ResourceTag.resource_id == Resource.id, ResourceTag.tag == filters.tag))
            )
        if filters.team_id:
            query = query.where(
                exists().where(and_(ResourceTeam.resource_id == Resource.id, ResourceTeam.team_id == filters.team_id))
            )
        for resource in session.execute(query):
            score = (
                candidates[resource.index_key]
                + POPULARITY_WEIGHT * math.log(1 + resource.source_popularity + resource.query_count)
                + (EXACT_NAME_BOOST if resource.name.lower() in exact_names else 0.0)
                + TYPE_BOOST.get(resource.type, 0.0)
            )
            found.append((score, resource))
    assets = [(sc, r, r) for sc, r in found] if filters.integration_id else _as_assets(session, caller, found, filters)
    best: dict[str, tuple[float, Row[Any]]] = {}
    texts: dict[str, str] = {}
    for score, asset, face in sorted(assets, key=lambda item: -item[0]):
        if asset.id not in best:
            best[asset.id] = (score, asset)
        # What the asset says of itself, else what its best-matching face says.
        texts[asset.id] = texts.get(asset.id) or _summary(asset) or _summary(face)
    ranked = sorted(best.values(), key=lambda item: (-item[0], item[1].qualified_name))[:limit]
    ids = [r.id for _, r in ranked]
    whole = {r.id: r for r in session.scalars(select(Resource).where(Resource.id.in_(ids)))}
    faces = _faces(session, caller, ids)
    return [
        Hit(r.id, r.type, r.name, r.qualified_name, texts[r.id], round(score, 4), whole[r.id], faces.get(r.id, ()))
        for score, r in ranked
    ]


def _summary(resource: Row[Any]) -> str:
    return str(resource.description or resource.definition[:300])


def _as_assets(
    session: StoreSession, caller: Caller, found: list[tuple[float, Row[Any]]], filters: _Filters
) -> list[tuple[float, Row[Any], Row[Any]]]:
    """(score, asset, face matched): a dbt face stands as its warehouse sibling, when that passes the type."""
    anchors = sorted({r.sibling_id for _, r in found if r.sibling_id is not None})
    tables: dict[str, Any] = {}
    if anchors:
        tables = {
            r.id: r
            for r in session.execute(
                select(*_RANKING_COLUMNS).where(Resource.id.in_(anchors), visible_resources(caller))
            )
            if not filters.type or r.type == filters.type
        }
    return [(score, tables.get(r.sibling_id or "", r), r) for score, r in found]


def _faces(session: StoreSession, caller: Caller, ids: list[str]) -> dict[str, tuple[Face, ...]]:
    others = siblings.faces(session, ids)
    wanted = sorted({f for fs in others.values() for f in fs})
    if not wanted:
        return {}
    shown = {
        r.id: r for r in session.scalars(select(Resource).where(Resource.id.in_(wanted), visible_resources(caller)))
    }
    return {
        rid: tuple(
            Face(r.id, r.type, r.name, r.qualified_name) for r in siblings.ordered([shown[f] for f in fs if f in shown])
        )
        for rid, fs in others.items()
    }

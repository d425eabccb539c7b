"""Full-text search over the catalog: what is indexed, and the ranked, visibility-filtered query.

SQLite uses an FTS5 table over `resource`; PostgreSQL a generated tsvector with a GIN index (see the
migrations). Both index three fields: words of the name, the rest of the text, and the Teams that see
the resource, so the index itself narrows to the caller's Teams; visible_resources() still decides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rapidfuzz.distance import DamerauLevenshtein
from sqlalchemy import (
    Column,
    ColumnElement,
    Float,
    MetaData,
    String,
    Table,
    and_,
    case,
    exists,
    func,
    insert,
    literal_column,
    select,
)

from datadesk.access.caller import Caller
from datadesk.access.visibility import scope_tokens, visible_resources
from datadesk.catalog.models import Resource, ResourceTag, ResourceTeam, SearchTerm
from datadesk.db import StoreSession

_fts_meta = MetaData()
# The FTS5 virtual table (SQLite only); created by the migration, never by metadata.create_all.
resource_fts = Table(
    "resource_fts",
    _fts_meta,
    Column("rowid", String),
    Column("search_name", String),
    Column("search_body", String),
    Column("search_scope", String),
    Column("rank", Float),
)

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
        session.execute(insert(SearchTerm), [{"workspace_id": workspace_id, "term": t} for t in fresh])


@dataclass(frozen=True)
class Hit:
    id: str
    type: str
    name: str
    qualified_name: str
    description: str
    score: float


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


def query_words(session: StoreSession, workspace_id: str, q: str) -> list[list[str]]:
    """Each query word with its typo corrections: [[prefix, correction, ...], ...]."""
    result = []
    for word in list(dict.fromkeys(words(q)))[:MAX_QUERY_WORDS]:
        stem = _stem(word)
        result.append([stem, *[c for c in _corrections(session, workspace_id, word) if not c.startswith(stem)]])
    return result


def _fts5_match(groups: list[list[str]], scope: list[str]) -> str:
    def alternatives(group: list[str]) -> str:
        options = [f'"{group[0]}"*'] + [f'"{c}"*' for c in group[1:]]
        return "(" + " OR ".join(options) + ")"

    content = " AND ".join(alternatives(g) for g in groups)
    teams = " OR ".join(f'"{t}"' for t in scope)
    return f"{{search_name search_body}} : ({content}) AND search_scope : ({teams})"


def _tsquery(groups: list[list[str]], scope: list[str]) -> str:
    content = " & ".join("(" + " | ".join(f"{w}:*" for w in g) + ")" for g in groups)
    return f"({content}) & ({' | '.join(scope)})"


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
) -> list[Hit]:
    """Ranked resources matching q that the caller can see, filters applied inside the query."""
    groups = query_words(session, caller.workspace_id, q)
    scope = scope_tokens(caller)
    if not groups or not scope:
        return []
    dialect = session.get_bind().dialect.name
    popularity = func.ln(1 + Resource.source_popularity + Resource.query_count) * POPULARITY_WEIGHT
    if dialect == "sqlite":
        # bm25() is lower for better matches; flip it so larger is better, as on PostgreSQL.
        relevance: ColumnElement[float] = -func.bm25(literal_column("resource_fts"), 10.0, 2.0, 0.0)
        query = (
            select(Resource, relevance.label("relevance"))
            .select_from(resource_fts)
            .join(Resource, literal_column("resource.rowid") == resource_fts.c.rowid)
            .where(literal_column("resource_fts").op("MATCH")(_fts5_match(groups, scope)))
        )
    else:
        tsquery = func.to_tsquery("simple", _tsquery(groups, scope))
        vector: ColumnElement[Any] = literal_column("resource.search_vector")
        relevance = func.ts_rank(vector, tsquery) * 10
        query = select(Resource, relevance.label("relevance")).where(vector.op("@@")(tsquery))
    query = query.where(visible_resources(caller))
    if type:
        query = query.where(Resource.type == type)
    if integration_id:
        query = query.where(Resource.integration_id == integration_id)
    if tag:
        query = query.where(
            exists().where(and_(ResourceTag.resource_id == Resource.id, ResourceTag.tag == tag.strip().lower()))
        )
    if team_id:
        query = query.where(
            exists().where(and_(ResourceTeam.resource_id == Resource.id, ResourceTeam.team_id == team_id))
        )
    phrase = " ".join(words(q))
    exact = case(
        (func.lower(Resource.name).in_([q.strip().lower(), phrase, phrase.replace(" ", "_")]), EXACT_NAME_BOOST),
        else_=0.0,
    )
    kind = case(*[(Resource.type == t, b) for t, b in TYPE_BOOST.items()], else_=0.0)
    score = (relevance + popularity + exact + kind).label("score")
    query = query.add_columns(score).order_by(score.desc(), Resource.qualified_name).limit(limit)
    hits = []
    for row in session.execute(query):
        resource, total = row[0], row[-1]
        hits.append(
            Hit(
                resource.id,
                resource.type,
                resource.name,
                resource.qualified_name,
                resource.description,
                round(float(total), 4),
            )
        )
    return hits

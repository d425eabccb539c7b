"""The search index: its tables and columns, the words in it that stand for Teams, and the queries that read it.

SQLite keeps an FTS5 table, `resource_fts`, filled by triggers on `resource`; PostgreSQL generated tsvectors
with GIN indexes (both made by the migrations, never by metadata.create_all). Both index three fields: words of
the name, the rest of the text (catalog.search.index_fields says what) and the scope words of the Teams that
see the resource, so the index itself narrows to the caller's Teams; visible_resources() still decides.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Column, ColumnElement, Float, MetaData, String, Table, and_, func, literal_column, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from datadesk.access.caller import Caller
from datadesk.catalog.models import Resource
from datadesk.db import StoreSession, on_sqlite_connect
from datadesk.identity.models import Team

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
# Not the mapped class: lists of Team sets ask the workspace themselves (see access.visibility's docstring).
_resource = cast(Table, Resource.__table__)

# --- deferred indexing (SQLite) ---------------------------------------------------------------

FTS_DEFERRED = "fts_deferred"  # the connection's info key of the flag the FTS insert trigger asks


@on_sqlite_connect
def _deferrable(dbapi_connection: Any, record: Any) -> None:
    # The FTS insert trigger asks this flag; a bulk sync raises it and indexes its rows in one statement.
    # Registered as this module is imported (every catalog module that writes resources imports it), so store
    # connections opened from then on have it; the trigger fails on one opened before.
    deferred = [0]
    record.info[FTS_DEFERRED] = deferred
    dbapi_connection.create_function("datadesk_fts_deferred", 0, lambda: deferred[0])


class DeferredIndex:
    """SQLite: a bulk writer's new rows indexed in one statement at the end instead of one trigger run per row
    (6x faster). Elsewhere nothing: PostgreSQL's vectors are generated columns."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.deferred: list[int] | None = connection.info.get(FTS_DEFERRED)
        self.first_rowid = 0
        if self.deferred is not None:
            self.first_rowid = int(
                connection.exec_driver_sql("SELECT coalesce(max(rowid), 0) FROM resource").scalar() or 0
            )
            self.deferred[0] = 1

    def release(self) -> None:
        """Whatever happened, single inserts are indexed by the trigger again."""
        if self.deferred is not None:
            self.deferred[0] = 0

    def close(self) -> None:
        """Index what was inserted (SQLite) and let the trigger index single inserts again."""
        if self.deferred is None or not self.deferred[0]:
            return
        self.deferred[0] = 0
        self.connection.exec_driver_sql(
            "INSERT INTO resource_fts(rowid, search_name, search_body, search_scope) "
            "SELECT rowid, search_name, search_body, search_scope FROM resource WHERE rowid > ?",
            (self.first_rowid,),
        )


# --- the words standing for Teams -------------------------------------------------------------

SCOPE_PREFIX = "t"


def scope_token(team_id: str) -> str:
    """The search-index word standing for one Team (see Resource.search_scope)."""
    return f"{SCOPE_PREFIX}{team_id}"


def scope_key(scope: str) -> str:
    """The short key of one Team set's scope words, which lists walk by (see walkable_scope_keys)."""
    return hashlib.sha256(scope.encode()).hexdigest()[:16] if scope else ""


def scope_of(team_ids: Iterable[str]) -> dict[str, str]:
    """A resource's columns naming its Team set: the search index's scope words and the key lists walk by."""
    scope = " ".join(scope_token(t) for t in sorted(set(team_ids)))
    return {"search_scope": scope, "scope_key": scope_key(scope)}


def scope_tokens(session: Session, caller: Caller) -> list[str]:
    """Index words narrowing a search to the caller's Teams (an admin's: all); visible_resources() still decides."""
    team_ids = caller.team_ids
    if caller.is_admin:
        team_ids = frozenset(session.scalars(select(Team.id).where(Team.workspace_id == caller.workspace_id)))
    return [scope_token(t) for t in sorted(team_ids)]


def walkable_scope_keys(session: Session, caller: Caller) -> list[str]:
    """Keys of the Team sets among listed resources that share a Team with the caller.

    A page in name order walked across the whole workspace reads every resource of the Teams the caller is
    not in before it reaches theirs (a tenth of a second at 100,000 resources); walked per Team set
    (ix_resource_ws_scope_name), each walk stops at the page's end. The sets are found by a loose scan of
    that index, one probe per set. A narrowing only: visible_resources() still decides each row.
    """
    walk = _listed_scopes(caller.workspace_id)
    tokens = set(scope_tokens(session, caller))
    return [key for key, scope in session.execute(walk) if not key or tokens & set((scope or "").split())]


def _listed_scopes(workspace_id: str) -> Any:
    listed = and_(
        _resource.c.workspace_id == workspace_id, _resource.c.sibling_id.is_(None), _resource.c.deleted_at.is_(None)
    )
    first = select(func.min(_resource.c.scope_key).label("key")).where(listed).cte("scopes", recursive=True)
    after = select(func.min(_resource.c.scope_key)).where(listed, _resource.c.scope_key > first.c.key)
    scopes = first.union_all(select(after.scalar_subquery()).where(first.c.key.is_not(None)))
    one = select(_resource.c.search_scope).where(listed, _resource.c.scope_key == scopes.c.key).limit(1)
    return select(scopes.c.key, one.scalar_subquery()).where(scopes.c.key.is_not(None))


# --- querying the index -----------------------------------------------------------------------

# Matches whose vectors PostgreSQL ranks when a word is in much of the catalog: reading each costs a heap
# fetch (~5 us a row), so a bounded sample keeps a broad word as cheap at a million resources as at 500.
PG_RANKED_MATCHES = 1000


def _fts5_match(groups: list[list[str]], scope: list[str], names_only: bool = False, any_words: bool = False) -> str:
    def alternatives(group: list[str]) -> str:
        options = [f'"{group[0]}"*'] + [f'"{c}"*' for c in group[1:]]
        return "(" + " OR ".join(options) + ")"

    content = (" OR " if any_words else " AND ").join(alternatives(g) for g in groups)
    teams = " OR ".join(f'"{t}"' for t in scope)
    columns = "search_name" if names_only else "search_name search_body"
    return f"{{{columns}}} : ({content}) AND search_scope : ({teams})"


def _tsquery(groups: list[list[str]], scope: list[str], any_words: bool = False) -> str:
    content = (" | " if any_words else " & ").join("(" + " | ".join(g) + ")" for g in groups)
    return f"({content}) & ({' | '.join(scope)})"


def candidates(
    session: StoreSession,
    sqlite: bool,
    groups: list[list[str]],
    scope: list[str],
    cap: int | None,
    *,
    names_only: bool = False,
    any_words: bool = False,
) -> dict[Any, float]:
    """Index keys (SQLite rowid or resource id) of the best matches in the caller's Teams, with relevance.

    groups: query words with their corrections (SQLite), or tsquery operands of each (PostgreSQL,
    catalog.search's `_lexemes`).
    """
    if sqlite:
        bm25 = func.bm25(literal_column("resource_fts"), 10.0, 2.0, 0.0)
        query = (
            select(resource_fts.c.rowid, bm25)
            .where(literal_column("resource_fts").op("MATCH")(_fts5_match(groups, scope, names_only, any_words)))
            .order_by(bm25)
        )
        if cap is not None:
            query = query.limit(cap)
        # bm25() is lower for better matches; flip it so larger is better, as on PostgreSQL.
        return {rowid: -float(rank) for rowid, rank in session.execute(query)}
    tsquery = func.to_tsquery("simple", _tsquery(groups, scope, any_words))
    # Names have a vector of their own: GIN holds no weights, so "names only" on the full one rechecks every row.
    vector: ColumnElement[Any] = literal_column(
        "resource.search_name_vector" if names_only else "resource.search_vector"
    )
    matches = select(Resource.id.label("id"), vector.label("vector")).where(vector.op("@@")(tsquery))
    if cap is not None:
        # Ranking reads every match's vector; for words in much of the catalog, rank a bounded sample instead.
        matches = matches.limit(PG_RANKED_MATCHES)
    found = matches.subquery()
    rank = func.ts_rank(found.c.vector, tsquery) * 10
    pg_query = select(found.c.id, rank).order_by(rank.desc())
    if cap is not None:
        pg_query = pg_query.limit(cap)
    return {rid: float(value) for rid, value in session.execute(pg_query)}


def index_key(sqlite: bool) -> ColumnElement[Any]:
    """The resource's column that candidates() keys its matches by."""
    return literal_column("resource.rowid") if sqlite else Resource.__table__.c.id

"""Semantic retrieval's store: each resource's card text as a vector, kept fresh on sync and edit.

A card is metadata only: the name in words, the start of the description or definition, and a table's
column names. Vectors are computed on this server (datadesk.embedding) and stored as float16; the
hash of the text embedded decides what is embedded again, so an unchanged card costs nothing. Keeping
vectors fresh never fails a sync or an edit: without the model, or when embedding fails, retrieval
falls back to full-text search for what is missing.

Who may see what is not decided here: `matrix()` holds every vector of a workspace, and the caller
(ai.retrieval) keeps only what access.visibility lets the asker see.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import numpy as np
from sqlalchemy import ColumnElement, Table, and_, delete, func, or_, select
from sqlalchemy.orm import sessionmaker

from datadesk.catalog import search
from datadesk.catalog.models import Resource, ResourceEmbedding
from datadesk.db import StoreSession, bulk_insert, transaction, utcnow
from datadesk.embedding import Embedder, embedder

log = logging.getLogger("datadesk.semantic")

EMBEDDED_TYPES = ("table", "view", "glossary_term", "document", "dashboard")
TEXT_CHARS = 300  # of a description or definition; the model reads 128 tokens at most anyway
COLUMN_NAMES = 40
CHUNK = 500
PROGRESS_CHUNK = 256  # cards embedded between two progress reports (about 2 s)
CACHED_WORKSPACES = 8
_table = cast(Table, ResourceEmbedding.__table__)


def card_text(
    *, type: str, name: str, description: str = "", definition: str = "", columns: Iterable[str] = (), parent: str = ""
) -> str:
    """What is embedded for one resource: its name in words, what it says of itself, a table's column names."""
    title = " ".join(search.words(name)) or name
    if type == "column" and parent:
        title = f"{title} of {' '.join(search.words(parent))}"
    parts = [title]
    about = " ".join(description.split())[:TEXT_CHARS].rstrip(" .")
    if about:
        parts.append(about)
    meaning = " ".join(definition.split())[:TEXT_CHARS].rstrip(" .")
    if meaning and type in ("glossary_term", "document", "dashboard"):  # a view's definition is SQL
        parts.append(meaning)
    names = [" ".join(search.words(c)) for c in list(columns)[:COLUMN_NAMES]]
    if names:
        parts.append("columns: " + ", ".join(n for n in names if n))
    return ". ".join(parts)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- keeping vectors fresh --------------------------------------------------------------------


@dataclass
class Pending:
    """What one refresh has to do: texts to embed (by resource id) and vectors to drop."""

    workspace_id: str
    texts: dict[str, str] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.texts or self.stale)


def _embeddable() -> ColumnElement[bool]:
    # Described columns too: a column's meaning often names what the question asks, its table's name does not.
    return and_(
        Resource.deleted_at.is_(None),
        or_(Resource.type.in_(EMBEDDED_TYPES), and_(Resource.type == "column", Resource.description != "")),
    )


def pending(
    session: StoreSession,
    model: Embedder,
    workspace_id: str,
    *,
    integration_id: str | None = None,
    resource_ids: list[str] | None = None,
) -> Pending:
    """The cards of an integration's resources, or of some resources, whose vector is missing or out of date."""
    scope: ColumnElement[bool]
    if integration_id is not None:
        scope = Resource.integration_id == integration_id
        chunks = [scope]
    else:
        ids = list(dict.fromkeys(resource_ids or []))
        chunks = [Resource.id.in_(ids[start : start + CHUNK]) for start in range(0, len(ids), CHUNK)]
    result = Pending(workspace_id)
    for where in chunks:
        cards = _cards(session, where)
        known = {
            rid: (model_id, digest)
            for rid, model_id, digest in session.execute(
                select(ResourceEmbedding.resource_id, ResourceEmbedding.model_id, ResourceEmbedding.text_sha256)
                .join(Resource, Resource.id == ResourceEmbedding.resource_id)
                .where(where)
            )
        }
        for rid, text in cards.items():
            if known.get(rid) != (model.model_id, _digest(text)):
                result.texts[rid] = text
        result.stale += [rid for rid in known if rid not in cards]
    return result


def _cards(session: StoreSession, where: ColumnElement[bool]) -> dict[str, str]:
    rows = session.execute(
        select(
            Resource.id,
            Resource.type,
            Resource.name,
            Resource.parent_id,
            Resource.description,
            Resource.definition,
        ).where(where, _embeddable())
    ).all()
    tables = {r.id: r.name for r in rows if r.type in ("table", "view")}
    columns: dict[str, list[str]] = defaultdict(list)
    parents: dict[str, str] = {}
    if tables:
        ids = list(tables)
        for start in range(0, len(ids), CHUNK):
            for parent_id, name in session.execute(
                select(Resource.parent_id, Resource.name)
                .where(
                    Resource.parent_id.in_(ids[start : start + CHUNK]),
                    Resource.type == "column",
                    Resource.deleted_at.is_(None),
                )
                .order_by(Resource.parent_id, Resource.ordinal)
            ):
                columns[parent_id or ""].append(name)
    wanted = sorted({r.parent_id for r in rows if r.type == "column" and r.parent_id and r.parent_id not in tables})
    for start in range(0, len(wanted), CHUNK):
        for rid, name in session.execute(
            select(Resource.id, Resource.name).where(Resource.id.in_(wanted[start : start + CHUNK]))
        ):
            parents[rid] = name
    return {
        r.id: card_text(
            type=r.type,
            name=r.name,
            description=r.description,
            definition=r.definition,
            columns=columns.get(r.id, ()),
            parent=tables.get(r.parent_id or "") or parents.get(r.parent_id or "", ""),
        )
        for r in rows
    }


def write(session: StoreSession, model: Embedder, work: Pending, vectors: np.ndarray) -> None:
    """Replace the vectors of `work` (one row of `vectors` per text, in order) and drop its stale ones."""
    ids = list(work.texts)
    gone = ids + work.stale
    for start in range(0, len(gone), CHUNK):
        session.execute(delete(ResourceEmbedding).where(ResourceEmbedding.resource_id.in_(gone[start : start + CHUNK])))
    now = utcnow()
    digests = [_digest(work.texts[rid]) for rid in ids]
    packed = np.asarray(vectors, dtype="<f2")
    rows = [
        {
            "workspace_id": work.workspace_id,
            "resource_id": rid,
            "model_id": model.model_id,
            "text_sha256": digests[i],
            "vector": packed[i].tobytes(),
            "updated_at": now,
        }
        for i, rid in enumerate(ids)
    ]
    connection = session.connection()
    for start in range(0, len(rows), CHUNK * 10):
        bulk_insert(connection, _table, rows[start : start + CHUNK * 10])


def refresh(session: StoreSession, workspace_id: str, resource_ids: list[str]) -> int:
    """Embed again the cards of some resources that changed, in the caller's transaction; never raises.

    For edits: one card takes a few milliseconds. Returns how many cards were embedded.
    """
    model = embedder()
    if model is None or not resource_ids:
        return 0
    try:
        with session.begin_nested():  # a failed write is undone alone; the edit itself stands
            work = pending(session, model, workspace_id, resource_ids=resource_ids)
            if work:
                write(session, model, work, model.embed(list(work.texts.values())))
    except Exception:
        log.exception("could not refresh the vectors of %d resources; full-text search stands in", len(resource_ids))
        return 0
    return len(work.texts)


def refresh_integration(
    sessions: sessionmaker[StoreSession],
    workspace_id: str,
    integration_id: str,
    progress: Callable[[int, int, str], None] | None = None,
) -> int:
    """After a sync: embed the integration's new and changed cards, reporting progress; never raises.

    Reading, embedding and writing are apart, so the store is not held while the model runs.
    """
    model = embedder()
    if model is None:
        return 0
    try:
        with transaction(sessions, workspace_id) as session:
            work = pending(session, model, workspace_id, integration_id=integration_id)
        if not work:
            return 0
        texts = list(work.texts.values())
        parts = []
        for start in range(0, len(texts), PROGRESS_CHUNK):
            if progress is not None:
                try:
                    progress(start, len(texts), "embedding cards for semantic search")
                except Exception:  # the worker is stopping: the sync stands, the next one embeds what is left
                    log.info("embedding stopped: %d cards of integration %s left", len(texts) - start, integration_id)
                    return 0
            parts.append(model.embed(texts[start : start + PROGRESS_CHUNK]))
        vectors = np.concatenate(parts)
        with transaction(sessions, workspace_id) as session:
            write(session, model, work, vectors)
    except Exception:
        log.exception("could not refresh the vectors of integration %s; search falls back to full text", integration_id)
        return 0
    return len(work.texts)


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Matrix:
    """Every vector of one workspace: row i is resource ids[i]."""

    stamp: tuple[Any, ...]
    ids: tuple[str, ...]
    vectors: np.ndarray  # float32, unit rows


_cache: OrderedDict[tuple[str, str], Matrix] = OrderedDict()
_cache_lock = threading.Lock()


def matrix(session: StoreSession, workspace_id: str, model: Embedder) -> Matrix:
    """A workspace's vectors, from this process's cache while its stamp (count, latest write) is unchanged."""
    count, latest = session.execute(
        select(func.count(), func.max(ResourceEmbedding.updated_at)).where(
            ResourceEmbedding.workspace_id == workspace_id
        )
    ).one()
    stamp: tuple[Any, ...] = (int(count), _instant(latest))
    key = (workspace_id, model.model_id)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None and cached.stamp == stamp:
            _cache.move_to_end(key)
            return cached
    ids: list[str] = []
    blobs: list[bytes] = []
    for rid, blob in session.execute(
        select(ResourceEmbedding.resource_id, ResourceEmbedding.vector).where(
            ResourceEmbedding.workspace_id == workspace_id, ResourceEmbedding.model_id == model.model_id
        )
    ):
        ids.append(rid)
        blobs.append(blob)
    vectors = np.frombuffer(b"".join(blobs), dtype="<f2").reshape(len(ids), model.dimensions).astype(np.float32)
    loaded = Matrix(stamp, tuple(ids), vectors)
    with _cache_lock:
        _cache[key] = loaded
        _cache.move_to_end(key)
        while len(_cache) > CACHED_WORKSPACES:
            _cache.popitem(last=False)
    return loaded


def _instant(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""

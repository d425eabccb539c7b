"""How much each table is used: the source's statement history and datadesk's own query log; popularity from it.

**From statements to tables.** Each statement of the history (connectors.history) is parsed with sqlglot
in the source's dialect (catalog.statements); the tables it reads and writes are named as the engine
resolves them: PostgreSQL folds unquoted names to lower case and takes `public` unless a schema is written; MySQL takes
the statement's default database (the digest's SCHEMA_NAME) and matches names exactly, else ignoring case
when only one table matches. A statement counts once for each table it touches, as often as it ran.
No statement text is stored: only counts per table and user, and lineage edges.

**The last 30 days.** pg_stat_statements' counts are cumulative since its last reset and carry no
time, and performance_schema's likewise since the server started. So each sync keeps, per table and
source user, a sample of the table's cumulative count (at most one a day, more when the source was
reset since the last one), and the count of the last 30 days is the growth since the newest sample
taken at or before 30 days ago. The source's reset time, when it says it (pg_stat_statements_info,
the server's uptime), is a sample of 0 then, and kept; a count lower than the sample before it, without such a
reset (a statement evicted from the history), adds nothing. When no sample is as old as 30 days the
growth is counted from the oldest one, and `since` says from when: a history younger than 30 days, or
only the days since datadesk began sampling. Distinct users are the source users whose count grew
(PostgreSQL; performance_schema does not say who). Samples older than the one counted from are dropped.

**Popularity.** A table's `source_popularity` is its source's statement count over that window when
the history was read, else what the connector measures (PostgreSQL: scans since the statistics'
reset); `query_count` is the runs through datadesk in the last 30 days, recomputed at each sync and
counted up by each run in between. The list index on `source_popularity + query_count` so orders by
queries of the last 30 days. A run through datadesk also reaches the source's history, so it counts
in both: a small share, and the order is what popularity is for. The runs are query_run_resource's rows
(written by datadesk's SQL service with each succeeded run), which carry the run's time and member.

**Query lineage** (INSERT ... SELECT and the like) is catalog.query_lineage's, replaced here at each sync.
A sync that cannot read the history removes the edges and the usage with it (the sync's note says why),
and popularity falls back to the connector's own measure.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, insert, select, update

from datadesk.catalog import query_lineage
from datadesk.catalog.models import Integration, Resource, SyncRun
from datadesk.catalog.statements import Name, Touched, parse, words
from datadesk.catalog.usage_models import QueryRunResource, ResourceUsage, UsageSample
from datadesk.connectors.base import Snapshot, StatementStat
from datadesk.db import StoreSession, utcnow

WINDOW = timedelta(days=30)
SAMPLE_EVERY = timedelta(days=1)
SOURCES = {"postgres": "pg_stat_statements", "mysql": "performance_schema"}
VIEW_KINDS = {"view", "materialized_view"}
CHUNK = 500
PARSED_KEPT = 50_000  # statements whose tables this process remembers (touched)

_PARSED: dict[tuple[bytes, str, str, str], Touched | None] = {}


def touched(text: str, dialect: str, default_schema: str, database: str = "") -> Touched | None:
    """The tables a statement touches, named as the engine resolves them; None when it cannot be parsed.

    Parsing costs 1 to 2 ms a statement, and a history changes little between syncs: results
    are kept in this process, keyed by a hash of the text (never the text itself).
    """
    key = (hashlib.sha256(text.encode()).digest(), dialect, default_schema, database)
    if key in _PARSED:
        return _PARSED[key]
    if len(_PARSED) >= PARSED_KEPT:
        _PARSED.clear()
    found = _PARSED[key] = parse(text, dialect, default_schema, database)
    return found


def prepare(snapshot: Snapshot) -> None:
    """Parse the snapshot's statements ahead, outside the store's transaction, so record() finds them parsed."""
    default = "public" if snapshot.dialect == "postgres" else ""
    names = {table.name.lower() for table in snapshot.tables}
    for statement in snapshot.statements:
        if words(statement.text) & names:
            touched(statement.text, snapshot.dialect, statement.schema or default, snapshot.database)


# --- recording at sync time -------------------------------------------------------------------------------------


@dataclass
class _Catalogued:
    """The integration's tables and views by (schema, name), as synced."""

    by_name: dict[Name, str]  # -> resource id
    folded: dict[Name, list[str]]  # lower-cased -> resource ids (MySQL's other case rule)
    views: set[str]
    words: set[str]  # lower-cased table names, to skip statements that name none

    def find(self, name: Name, dialect: str) -> str | None:
        found = self.by_name.get(name)
        if found is None and dialect == "mysql":
            alike = self.folded.get((name[0].lower(), name[1].lower()), [])
            found = alike[0] if len(alike) == 1 else None
        return found


@dataclass
class _Mapped:
    calls: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    reset: dict[str, datetime] = field(default_factory=dict)  # resource id -> the source's last reset
    edges: set[tuple[str, str]] = field(default_factory=set)
    unparsed: int = 0


def _catalogued(snapshot: Snapshot, ids: dict[str, str]) -> _Catalogued:
    by_name: dict[Name, str] = {}
    folded: dict[Name, list[str]] = defaultdict(list)
    views: set[str] = set()
    for table in snapshot.tables:
        rid = ids.get(f"table:{table.schema}.{table.name}")
        if table.unique_id or rid is None:
            continue
        by_name[table.schema, table.name] = rid
        folded[table.schema.lower(), table.name.lower()].append(rid)
        if table.kind in VIEW_KINDS:
            views.add(rid)
    return _Catalogued(by_name, folded, views, {name.lower() for _, name in by_name})


def map_statements(statements: Iterable[StatementStat], dialect: str, database: str, known: _Catalogued) -> _Mapped:
    """Counts per table and source user, the source's reset per table, and query lineage edges."""
    mapped = _Mapped()
    parsed: dict[tuple[str, str], Touched | None] = {}
    default = "public" if dialect == "postgres" else ""
    for statement in statements:
        key = (statement.text, statement.schema or default)
        if key not in parsed:
            names_one = bool(words(statement.text) & known.words)
            parsed[key] = touched(statement.text, dialect, key[1], database) if names_one else None
            mapped.unparsed += names_one and parsed[key] is None
        found = parsed[key]
        if found is None:
            continue
        user = statement.user or ""
        for name in found.tables:
            rid = known.find(name, dialect)
            if rid is None:
                continue
            mapped.calls[rid][user] += statement.calls
            if statement.since is not None and (rid not in mapped.reset or statement.since > mapped.reset[rid]):
                mapped.reset[rid] = statement.since
        for up, down in found.feeds:
            up_id, down_id = known.find(up, dialect), known.find(down, dialect)
            if up_id and down_id and up_id != down_id and down_id not in known.views:
                mapped.edges.add((up_id, down_id))
    return mapped


def history_read(integration_type: str, snapshot: Snapshot) -> bool:
    """Whether the source's statement history was read: then it, not the connector, sets popularity."""
    return integration_type in SOURCES and not (snapshot.usage_note and not snapshot.statements)


def record(
    session: StoreSession,
    integration: Integration,
    snapshot: Snapshot,
    ids: dict[str, str],
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Write the synced tables' usage, popularity and query lineage (apply.apply); returns stats for the run."""
    now = now or utcnow()
    _count_own_runs(session, integration.id, now)
    source = SOURCES.get(integration.type)
    if source is None:
        return {}
    stats: dict[str, Any] = {"usage": snapshot.usage_note} if snapshot.usage_note else {}
    known = _catalogued(snapshot, ids)
    resource_ids = list(known.by_name.values())
    if not history_read(integration.type, snapshot):
        _replace_usage(session, integration.workspace_id, resource_ids, [])
        query_lineage.replace_edges(session, integration, set())
        return stats
    mapped = map_statements(snapshot.statements, snapshot.dialect, snapshot.database, known)
    users = snapshot.dialect == "postgres"
    usage = _window(session, integration.workspace_id, mapped, now, users=users)
    # Tables no statement touched: none in the window, which begins at the source's reset if that is later.
    reset = max((s.since for s in snapshot.statements if s.since is not None), default=None)
    quiet_since = max(now - WINDOW, reset) if reset is not None else now - WINDOW
    for rid in resource_ids:
        usage.setdefault(rid, (0, 0 if users else None, quiet_since))
    rows = [
        {"resource_id": rid, "source": source, "queries": q, "users": u, "since": since, "computed_at": now}
        for rid, (q, u, since) in usage.items()
    ]
    _replace_usage(session, integration.workspace_id, resource_ids, rows)
    _set_popularity(session, snapshot, ids, {rid: q for rid, (q, _u, _s) in usage.items()})
    added = query_lineage.replace_edges(session, integration, mapped.edges)
    stats |= {
        "usage_statements": len(snapshot.statements),
        "usage_unparsed": mapped.unparsed,
        "usage_tables": sum(1 for q, _u, _s in usage.values() if q),
        "query_lineage": added,
    }
    return stats


def _window(
    session: StoreSession, workspace_id: str, mapped: _Mapped, now: datetime, *, users: bool
) -> dict[str, tuple[int, int | None, datetime]]:
    """Per table: (queries since the window's start, distinct users or None, the start); keeps the samples."""
    cutoff = now - WINDOW
    stored: dict[tuple[str, str], list[tuple[datetime, int]]] = defaultdict(list)
    rids = list(mapped.calls)
    for start in range(0, len(rids), CHUNK):
        for rid, user, taken_at, calls in session.execute(
            select(UsageSample.resource_id, UsageSample.user_key, UsageSample.taken_at, UsageSample.calls).where(
                UsageSample.resource_id.in_(rids[start : start + CHUNK])
            )
        ):
            stored[rid, user].append((taken_at, calls))
    result: dict[str, tuple[int, int | None, datetime]] = {}
    new_samples: list[dict[str, Any]] = []
    stale: list[dict[str, Any]] = []
    for rid, per_user in mapped.calls.items():
        reset = mapped.reset.get(rid)
        total, active, starts = 0, 0, []
        for user, calls in per_user.items():
            kept = sorted(stored.get((rid, user), []))
            points = sorted([*kept, *([(reset, 0)] if reset is not None else [])])
            grown, since = growth([*points, (now, calls)], cutoff)
            total += grown
            active += grown > 0
            starts.append(since)
            newest = kept[-1][0] if kept else None
            row = {"workspace_id": workspace_id, "resource_id": rid, "user_key": user}
            if reset is not None and reset < now and (newest is None or reset > newest):
                new_samples.append({**row, "taken_at": reset, "calls": 0})  # kept: the next reset hides this one
            if newest is None or now - newest >= SAMPLE_EVERY or (reset is not None and reset > newest):
                new_samples.append({**row, "taken_at": now, "calls": calls})
            if kept and kept[0][0] < since:
                stale.append({"b_rid": rid, "b_user": user, "b_before": since})
        result[rid] = (total, active if users else None, min(starts))
    if stale:
        samples = _core(UsageSample)
        session.connection().execute(
            samples.delete().where(
                samples.c.resource_id == bindparam("b_rid"),
                samples.c.user_key == bindparam("b_user"),
                samples.c.taken_at < bindparam("b_before"),
            ),
            stale,
        )
    if new_samples:
        session.execute(insert(UsageSample), new_samples)
    return result


def growth(points: list[tuple[datetime, int]], cutoff: datetime) -> tuple[int, datetime]:
    """How much a cumulative count grew from the newest point at or before `cutoff` (else the oldest), and from when.

    Points are (time, count), sorted by time, the last one the count now; a drop adds nothing (a reset is a
    point of 0, so what follows it counts whole).
    """
    start = 0
    for index, (taken_at, _calls) in enumerate(points):
        if taken_at <= cutoff:
            start = index
    counts = [calls for _t, calls in points[start:]]
    return sum(max(0, after - before) for before, after in pairwise(counts)), points[start][0]


def _core(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _replace_usage(
    session: StoreSession, workspace_id: str, resource_ids: list[str], rows: list[dict[str, Any]]
) -> None:
    for start in range(0, len(resource_ids), CHUNK):
        session.execute(
            delete(ResourceUsage)
            .where(ResourceUsage.resource_id.in_(resource_ids[start : start + CHUNK]))
            .execution_options(synchronize_session=False)
        )
    if rows:
        session.execute(insert(ResourceUsage), [{"workspace_id": workspace_id, **row} for row in rows])


def _set_popularity(session: StoreSession, snapshot: Snapshot, ids: dict[str, str], queries: dict[str, int]) -> None:
    """source_popularity: the history's count, where apply() wrote the connector's own measure."""
    changes = []
    for table in snapshot.tables:
        rid = ids.get(f"table:{table.schema}.{table.name}")
        if rid is None or table.unique_id:
            continue
        value = float(queries.get(rid, 0))
        if value != float(table.popularity):
            changes.append({"b_id": rid, "source_popularity": value})
    if changes:
        resource = _core(Resource)
        session.connection().execute(
            resource.update()
            .where(resource.c.id == bindparam("b_id"))
            .values(source_popularity=bindparam("source_popularity")),
            changes,
        )


def _count_own_runs(session: StoreSession, integration_id: str, now: datetime) -> None:
    """query_count: the integration's tables' runs through datadesk in the last 30 days."""
    runs = (
        select(func.count())
        .select_from(QueryRunResource)
        .where(QueryRunResource.resource_id == Resource.id, QueryRunResource.created_at >= now - WINDOW)
        .scalar_subquery()
    )
    session.execute(
        update(Resource)
        .where(
            Resource.integration_id == integration_id,
            Resource.type.in_(("table", "view")),
            Resource.query_count != runs,
        )
        .values(query_count=runs)
        .execution_options(synchronize_session=False)
    )


# --- shown --------------------------------------------------------------------------------------------------


@dataclass
class Usage:
    """A table's use, as the API and the resource page show it; counts only, no statement text."""

    source: str | None  # pg_stat_statements | performance_schema; None when the source's history is not read
    queries_30d: int | None  # the source's statements touching it from `since` (None: no history read)
    users_30d: int | None  # distinct source users among them (None: the source does not say)
    since: datetime | None  # what queries_30d counts from: 30 days back, or later/earlier as the history allows
    datadesk_queries_30d: int  # runs through datadesk in the last 30 days (also counted by the source)
    datadesk_users_30d: int  # distinct members among them
    window: str = "in the last 30 days"  # what queries_30d covers, in words ("since 2026-12-01" when not 30 days)
    note: str = ""  # why the source's history was not read at the last sync

    @property
    def summary(self) -> str:
        """One line for the resource page."""
        parts = []
        if self.source is not None and self.queries_30d is not None:
            who = f" by {self.users_30d} {_plural(self.users_30d, 'user')}" if self.users_30d is not None else ""
            parts.append(f"{self.queries_30d:,} {_plural(self.queries_30d, 'query', 'queries')}{who} {self.window}")
        parts.append(
            f"{self.datadesk_queries_30d:,} {_plural(self.datadesk_queries_30d, 'run')} by "
            f"{self.datadesk_users_30d} {_plural(self.datadesk_users_30d, 'member')} through datadesk"
        )
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _plural(count: int, one: str, many: str | None = None) -> str:
    return one if count == 1 else (many or f"{one}s")


def shown(*, session: StoreSession, resource: Resource, now: datetime | None = None) -> Usage | None:
    """The usage of a table or view the caller may already see; None for other resources."""
    if resource.type not in ("table", "view"):
        return None
    now = now or utcnow()
    own = session.execute(
        select(func.count(), func.count(func.distinct(QueryRunResource.user_id)))
        .select_from(QueryRunResource)
        .where(QueryRunResource.resource_id == resource.id, QueryRunResource.created_at >= now - WINDOW)
    ).one()
    row = session.get(ResourceUsage, resource.id)
    note = ""
    if row is None and resource.integration_id:
        stats = session.scalar(
            select(SyncRun.stats)
            .where(SyncRun.integration_id == resource.integration_id, SyncRun.status == "succeeded")
            .order_by(SyncRun.finished_at.desc())
            .limit(1)
        )
        note = str((stats or {}).get("usage", ""))
    window = "in the last 30 days"
    if row is not None and abs(row.since - (row.computed_at - WINDOW)) > SAMPLE_EVERY:
        window = f"since {row.since:%Y-%m-%d}"
    return Usage(
        window=window,
        source=row.source if row else None,
        queries_30d=row.queries if row else None,
        users_30d=row.users if row else None,
        since=row.since if row else None,
        datadesk_queries_30d=int(own[0]),
        datadesk_users_30d=int(own[1]),
        note=note,
    )

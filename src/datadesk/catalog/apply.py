"""Applying a snapshot: compare what a source describes with what the catalog holds, then write the difference.

Applying is idempotent: unchanged resources are not written, changed ones are updated, vanished ones are
marked deleted, and curated descriptions, tags, owners and Teams are left alone. catalog.sync runs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parseaddr
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, tuple_, update

from datadesk.catalog import links, search, search_index, usage
from datadesk.catalog import teams as resource_teams
from datadesk.catalog.models import Integration, Lineage, Resource, ResourceOwner, ResourceTag, ResourceTeam
from datadesk.catalog.snapshot_plan import Plan, Planned, plan
from datadesk.connectors import lineage
from datadesk.connectors.base import Progress, Snapshot, no_progress
from datadesk.db import StoreSession, bulk_insert, new_id, utcnow
from datadesk.identity.models import Membership, Team, User

CHUNK = 500
WRITE_CHUNK = 5000
_table = cast(Table, Resource.__table__)


@dataclass
class Stats:
    """What a sync did to the catalog's resources, and what else it has to say (`extra`)."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    refreshed: int = 0  # only row estimates or popularity changed
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "deleted": self.deleted,
            "unchanged": self.unchanged,
            "refreshed": self.refreshed,
            **self.extra,
        }


def apply(
    session: StoreSession, integration: Integration, snapshot: Snapshot, *, progress: Progress = no_progress
) -> Stats:
    """Write a snapshot into the catalog in the caller's transaction."""
    workspace_id = integration.workspace_id
    stats = Stats()
    stats.extra["lineage_unparsed"] = lineage.annotate(snapshot)
    planned = plan(snapshot)
    by_history = usage.history_read(integration.type, snapshot)  # usage.record sets popularity then
    current = _load(session, workspace_id, integration.id, planned)
    now = utcnow()
    total = len(planned.resources)
    changes = _compare_and_write(session, planned, current, by_history, now, stats, progress)
    _write_the_rest(session, planned, current, changes, now)
    stats.extra |= usage.record(session, integration, snapshot, current.ids)  # usage, popularity, query lineage
    search.remember_terms(session, workspace_id, changes.terms)
    links.relink_dbt(session, workspace_id)
    session.flush()
    progress(total, total, "done")
    return stats


# --- what the catalog holds -------------------------------------------------------------------


@dataclass
class _Existing:
    """One resource of the integration as the catalog holds it."""

    id: str
    content_hash: str
    row_estimate: int | None
    source_popularity: float
    deleted: bool
    description: str
    description_curated: bool
    tags_curated: bool
    owners_curated: bool
    teams_curated: bool


@dataclass
class _Current:
    """The integration's resources as the catalog holds them, with what curators set on them."""

    workspace_id: str
    integration_id: str
    existing: dict[str, _Existing]  # by external id
    curated_tags: dict[str, list[str]]
    ids: dict[str, str]  # resource id of each external id, the snapshot's new ones included
    inherited: list[str]  # the integration's Teams
    curated_teams: dict[str, list[str]]

    def teams_for(self, item: Planned) -> list[str]:
        parent = self.ids.get(item.parent) if item.parent else None
        return resource_teams.effective(
            self.ids[item.external_id], item.type, parent, curated=self.curated_teams, inherited=self.inherited
        )


def _load(session: StoreSession, workspace_id: str, integration_id: str, planned: Plan) -> _Current:
    existing = _load_existing(session, integration_id)
    curated_tags = _curated_tags(session, [e.id for e in existing.values() if e.tags_curated])
    ids = {ext: row.id for ext, row in existing.items()}
    for item in planned.resources:
        ids.setdefault(item.external_id, new_id())
    inherited = resource_teams.integration_teams(session, workspace_id, integration_id)
    curated_teams = resource_teams.teams_of(session, [e.id for e in existing.values() if e.teams_curated])
    return _Current(workspace_id, integration_id, existing, curated_tags, ids, inherited, curated_teams)


def _load_existing(session: StoreSession, integration_id: str) -> dict[str, _Existing]:
    rows = session.execute(
        select(
            Resource.external_id,
            Resource.id,
            Resource.content_hash,
            Resource.row_estimate,
            Resource.source_popularity,
            Resource.deleted_at,
            Resource.description,
            Resource.description_curated,
            Resource.tags_curated,
            Resource.owners_curated,
            Resource.teams_curated,
        ).where(Resource.integration_id == integration_id)
    )
    return {
        r.external_id: _Existing(
            r.id,
            r.content_hash,
            r.row_estimate,
            r.source_popularity,
            r.deleted_at is not None,
            r.description,
            r.description_curated,
            r.tags_curated,
            r.owners_curated,
            r.teams_curated,
        )
        for r in rows
    }


def _curated_tags(session: StoreSession, resource_ids: list[str]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for start in range(0, len(resource_ids), CHUNK):
        for rid, tag in session.execute(
            select(ResourceTag.resource_id, ResourceTag.tag).where(
                ResourceTag.resource_id.in_(resource_ids[start : start + CHUNK])
            )
        ):
            result.setdefault(rid, []).append(tag)
    return result


# --- comparing, and writing the resources as it goes ------------------------------------------


class _Writer:
    """Writes rows in chunks as the comparison goes, so memory stays flat on big sources."""

    def __init__(self, session: StoreSession, progress: Progress, total: int) -> None:
        self.connection = session.connection()
        self.progress, self.total, self.done = progress, total, 0
        self.index = search_index.DeferredIndex(self.connection)
        self.inserts: list[dict[str, Any]] = []
        self.team_rows: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []

    def insert(self, row: dict[str, Any], team_rows: list[dict[str, Any]]) -> None:
        self.inserts.append(row)
        self.team_rows += team_rows
        if len(self.inserts) >= WRITE_CHUNK:
            self.flush()

    def update(self, row: dict[str, Any]) -> None:
        self.updates.append(row)
        if len(self.updates) >= WRITE_CHUNK:
            self.flush()

    def flush(self) -> None:
        # Core statements: the ORM's per-row bookkeeping costs more than the writes at this size.
        if self.inserts:
            bulk_insert(self.connection, _table, self.inserts)
            bulk_insert(self.connection, cast(Table, ResourceTeam.__table__), self.team_rows)
        if self.updates:
            columns = [k for k in self.updates[0] if k != "b_id"]
            statement = (
                _table.update().where(_table.c.id == bindparam("b_id")).values({c: bindparam(c) for c in columns})
            )
            self.connection.execute(statement, self.updates)
        self.done += len(self.inserts) + len(self.updates)
        if self.inserts or self.updates:
            self.progress(self.done, self.total, "writing")
        self.inserts, self.team_rows, self.updates = [], [], []

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.index.release()

    def close(self) -> None:
        """Index what was inserted and let single inserts be indexed one by one again."""
        self.index.close()


@dataclass
class _Changes:
    """What the comparison found to write once the resources themselves are written."""

    refreshes: list[dict[str, Any]] = field(default_factory=list)
    tag_rows: list[dict[str, Any]] = field(default_factory=list)
    retagged: list[str] = field(default_factory=list)  # updated resources whose source tags replace their old ones
    owner_plan: dict[str, str] = field(default_factory=dict)
    terms: set[str] = field(default_factory=set)
    revived: dict[str, list[str]] = field(default_factory=dict)
    vanished: list[str] = field(default_factory=list)


def _compare_and_write(
    session: StoreSession,
    planned: Plan,
    current: _Current,
    by_history: bool,
    now: datetime,
    stats: Stats,
    progress: Progress,
) -> _Changes:
    """Write the new and changed resources in chunks as the comparison finds them; say what else changed."""
    changes = _Changes()
    total = len(planned.resources)
    with _Writer(session, progress, total) as writer:
        for done, item in enumerate(planned.resources, 1):
            if done % 2000 == 0:
                progress(done, total, "comparing")
            old = current.existing.get(item.external_id)
            digest = item.content_hash()
            if old is not None and old.content_hash == digest and not old.deleted:
                popularity_moved = not by_history and old.source_popularity != item.popularity
                if old.row_estimate != item.row_estimate or popularity_moved:
                    changes.refreshes.append(
                        {"b_id": old.id, "row_estimate": item.row_estimate, "source_popularity": item.popularity}
                    )
                else:
                    stats.unchanged += 1
                continue
            _write_changed(writer, item, old, digest, current, changes, stats, now)
        present = {item.external_id for item in planned.resources}
        changes.vanished = [row.id for ext, row in current.existing.items() if ext not in present and not row.deleted]
        stats.deleted = len(changes.vanished)
        stats.refreshed = len(changes.refreshes)

        writer.flush()
        writer.close()
    return changes


def _write_changed(
    writer: _Writer,
    item: Planned,
    old: _Existing | None,
    digest: str,
    current: _Current,
    changes: _Changes,
    stats: Stats,
    now: datetime,
) -> None:
    """Insert a new resource or update a changed one; note its source tags and owner for later."""
    workspace_id = current.workspace_id
    description = old.description if old is not None and old.description_curated else item.source_description
    tags = current.curated_tags.get(old.id, []) if old is not None and old.tags_curated else item.source_tags
    search_name, search_body = search.index_fields(
        name=item.name,
        qualified_name=item.qualified_name,
        description=description,
        definition=item.definition,
        tags=tags,
        data_type=item.data_type,
        columns=item.columns,
    )
    if item.type != "column":  # a table's body already holds its columns' words
        changes.terms |= search.terms_of(search_name, search_body)
    values: dict[str, Any] = {
        "type": item.type,
        "name": item.name,
        "qualified_name": item.qualified_name,
        "parent_id": current.ids.get(item.parent) if item.parent else None,
        "kind": item.kind,
        "source_description": item.source_description,
        "description": description,
        "definition": item.definition,
        "data_type": item.data_type,
        "ordinal": item.ordinal,
        "is_primary_key": item.is_primary_key,
        "properties": item.properties,
        "source_tags": item.source_tags,
        "source_owner": item.source_owner,
        "row_estimate": item.row_estimate,
        "source_popularity": item.popularity,
        "content_hash": digest,
        "search_name": search_name,
        "search_body": search_body,
        "updated_at": now,
        "deleted_at": None,
        **search_index.scope_of(current.teams_for(item)),
    }
    rid = current.ids[item.external_id]
    if old is None:
        writer.insert(
            {
                **values,
                "id": rid,
                "workspace_id": workspace_id,
                "integration_id": current.integration_id,
                "external_id": item.external_id,
                "created_at": now,
                "description_curated": False,
                "tags_curated": False,
                "owners_curated": False,
                "teams_curated": False,
                "query_count": 0,
            },
            [{"workspace_id": workspace_id, "resource_id": rid, "team_id": t} for t in current.teams_for(item)],
        )
        stats.created += 1
    else:
        writer.update({"b_id": old.id, **values})
        if old.deleted:
            changes.revived[old.id] = current.teams_for(item)
        stats.updated += 1
    if old is None or not old.tags_curated:
        if old is not None:
            changes.retagged.append(rid)
        changes.tag_rows += [{"workspace_id": workspace_id, "resource_id": rid, "tag": t} for t in item.source_tags]
    if item.source_owner and (old is None or not old.owners_curated):
        changes.owner_plan[rid] = item.source_owner


# --- writing the rest -------------------------------------------------------------------------


def _write_the_rest(session: StoreSession, planned: Plan, current: _Current, changes: _Changes, now: datetime) -> None:
    """Teams of revived resources, refreshed estimates, vanished resources, tags, owners and lineage."""
    workspace_id = current.workspace_id
    if changes.revived:
        resource_teams.write(session, workspace_id, changes.revived)
    connection = session.connection()
    if changes.refreshes:
        statement = (
            _table.update()
            .where(_table.c.id == bindparam("b_id"))
            .values(row_estimate=bindparam("row_estimate"), source_popularity=bindparam("source_popularity"))
        )
        connection.execute(statement, changes.refreshes)
    vanished = changes.vanished
    for start in range(0, len(vanished), CHUNK):
        session.execute(
            update(Resource)
            .where(Resource.id.in_(vanished[start : start + CHUNK]))
            .values(deleted_at=now, search_scope="", scope_key="", updated_at=now)
            .execution_options(synchronize_session=False)
        )
    _write_tags(session, changes.retagged, changes.tag_rows)
    _write_source_owners(session, workspace_id, changes.owner_plan)
    _write_edges(session, workspace_id, current.integration_id, planned, current.ids)


def _write_tags(session: StoreSession, retagged: list[str], rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(retagged), CHUNK):
        session.execute(delete(ResourceTag).where(ResourceTag.resource_id.in_(retagged[start : start + CHUNK])))
    if rows:
        session.execute(insert(ResourceTag), rows)


def _write_source_owners(session: StoreSession, workspace_id: str, owner_plan: dict[str, str]) -> None:
    """A source's owner text (dbt meta.owner) becomes an owner when it names a member or a Team."""
    if not owner_plan:
        return
    users = dict(session.execute(select(User.email, User.id).join(Membership, Membership.user_id == User.id)).all())
    team_rows = session.execute(select(Team.name, Team.id)).all()
    teams = {name.lower(): tid for name, tid in team_rows}
    ids = list(owner_plan)
    for start in range(0, len(ids), CHUNK):
        session.execute(delete(ResourceOwner).where(ResourceOwner.resource_id.in_(ids[start : start + CHUNK])))
    rows = []
    for rid, owner in owner_plan.items():
        key = owner.strip().lower()
        address = parseaddr(owner)[1].lower()  # "Fiona <fiona@acme.com>" names a member too
        if address in users:
            key = address
        if key in users:
            rows.append({"workspace_id": workspace_id, "resource_id": rid, "kind": "user", "owner_id": users[key]})
        elif key in teams:
            rows.append({"workspace_id": workspace_id, "resource_id": rid, "kind": "team", "owner_id": teams[key]})
    if rows:
        session.execute(insert(ResourceOwner), rows)


def _write_edges(
    session: StoreSession, workspace_id: str, integration_id: str, planned: Plan, ids: dict[str, str]
) -> None:
    wanted = {(ids[up], ids[down], "value") for up, down in planned.edges}
    wanted |= {(ids[up], ids[down], kind) for up, down, kind in planned.column_edges}
    upstream = Resource.__table__.alias("up")
    current = set(
        session.execute(
            select(Lineage.upstream_id, Lineage.downstream_id, Lineage.kind)
            .join(upstream, upstream.c.id == Lineage.upstream_id)
            .where(upstream.c.integration_id == integration_id, Lineage.origin == "sync")
        )
    )
    gone = sorted((up, down) for up, down, _kind in current - wanted)
    pair = tuple_(Lineage.upstream_id, Lineage.downstream_id)
    for start in range(0, len(gone), CHUNK):
        session.execute(delete(Lineage).where(pair.in_(gone[start : start + CHUNK])))
    new = sorted(wanted - current)
    pair = tuple_(Lineage.upstream_id, Lineage.downstream_id)
    held: set[tuple[str, str]] = set()  # by another origin (a query's, a curator's): that edge stays as it is
    for start in range(0, len(new), CHUNK):
        chunk = [(up, down) for up, down, _kind in new[start : start + CHUNK]]
        query = select(Lineage.upstream_id, Lineage.downstream_id).where(pair.in_(chunk))
        held.update((up, down) for up, down in session.execute(query))
    added = [
        {"workspace_id": workspace_id, "upstream_id": up, "downstream_id": down, "origin": "sync", "kind": kind}
        for up, down, kind in new
        if (up, down) not in held
    ]
    for start in range(0, len(added), WRITE_CHUNK):
        session.execute(insert(Lineage), added[start : start + WRITE_CHUNK])

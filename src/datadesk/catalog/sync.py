"""Syncs: queue one per integration, run it in one transaction, and fail runs whose process died.

Applying a snapshot is idempotent: unchanged resources are not written, changed ones are updated,
vanished ones are marked deleted, and curated descriptions, tags, owners and Teams are left alone.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parseaddr
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, delete, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from datadesk.access.caller import Caller
from datadesk.access.policy import Action, require
from datadesk.catalog import links, search, semantic, usage
from datadesk.catalog import teams as resource_teams
from datadesk.catalog.integrations import connector, get_integration
from datadesk.catalog.models import Integration, Lineage, Resource, ResourceOwner, ResourceTag, ResourceTeam, SyncRun
from datadesk.catalog.snapshot_plan import Plan, Planned, plan
from datadesk.connectors import lineage
from datadesk.connectors.base import ConnectionFailed, Progress, Snapshot, no_progress
from datadesk.db import (
    FTS_DEFERRED,
    StoreSession,
    analyze_if_changed,
    bulk_insert,
    is_busy,
    new_id,
    transaction,
    utcnow,
)
from datadesk.errors import DomainError, NotFound
from datadesk.identity.models import Membership, Team, User
from datadesk.settings import Settings

log = logging.getLogger("datadesk.sync")
STALE_AFTER = timedelta(seconds=45)  # a running run beats every HEARTBEAT_SECONDS
HEARTBEAT_SECONDS = 5.0
CHUNK = 500
WRITE_CHUNK = 5000
INTERRUPTED = "Interrupted: the worker stopped before the sync finished; nothing was applied. It was queued again."
WORKER_STOPPED = "The worker running this sync stopped before it finished; nothing was applied. It runs again."
TRIGGERS = ("manual", "schedule", "api")
_table = cast(Table, Resource.__table__)


class Stop(Protocol):
    """Asked between steps of a sync: once set, the sync ends there, rolled back (a threading.Event is one)."""

    def is_set(self) -> bool: ...


class Interrupted(Exception):
    """The server is stopping: the sync ends at its next step and its transaction rolls back."""


@dataclass
class Stats:
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


def this_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# --- queueing and reaping ---------------------------------------------------------------------


def request_sync(
    *, session: StoreSession, caller: Caller, integration_id: str, trigger: str = "manual"
) -> tuple[SyncRun, bool]:
    """Queue a sync, or return the one already queued or running (and False)."""
    require(caller, Action.manage_integrations)
    get_integration(session=session, caller=caller, integration_id=integration_id)
    reap_stale(session)
    return queue_run(
        session,
        workspace_id=caller.workspace_id,
        integration_id=integration_id,
        trigger=trigger,
        requested_by=caller.user_id,
    )


def queue_run(
    session: StoreSession, *, workspace_id: str, integration_id: str, trigger: str, requested_by: str | None = None
) -> tuple[SyncRun, bool]:
    """A new queued run of the integration, or the one already queued or running (and False); no access check.

    The run names no worker until one claims it, so whichever process queued it may stop meanwhile.
    """
    active = _active_run(session, integration_id)
    if active is not None:
        return active, False
    now = utcnow()
    run = SyncRun(
        workspace_id=workspace_id,
        integration_id=integration_id,
        status="queued",
        trigger=trigger,
        requested_by=requested_by,
        worker="",
        heartbeat_at=now,
        created_at=now,
        stats={},
    )
    try:
        with session.begin_nested():
            session.add(run)
    except IntegrityError:
        # Another process queued one between our check and insert: that one runs, once.
        active = _active_run(session, integration_id)
        if active is None:
            raise
        return active, False
    return run, True


def _active_run(session: StoreSession, integration_id: str) -> SyncRun | None:
    return session.scalar(
        select(SyncRun).where(SyncRun.integration_id == integration_id, SyncRun.status.in_(("queued", "running")))
    )


def get_run(*, session: StoreSession, caller: Caller, integration_id: str, run_id: str) -> SyncRun:
    require(caller, Action.read_workspace)
    get_integration(session=session, caller=caller, integration_id=integration_id)
    reap_stale(session)
    run = session.get(SyncRun, run_id)
    if run is None or run.integration_id != integration_id:
        raise NotFound("No such sync run.")
    return run


def list_runs(*, session: StoreSession, caller: Caller, integration_id: str, limit: int = 20) -> list[SyncRun]:
    require(caller, Action.read_workspace)
    get_integration(session=session, caller=caller, integration_id=integration_id)
    return list(
        session.scalars(
            select(SyncRun)
            .where(SyncRun.integration_id == integration_id)
            .order_by(SyncRun.created_at.desc())
            .limit(limit)
        )
    )


def _alive(worker: str) -> bool | None:
    """Whether a worker process is alive; None when it runs on another host."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_stale(session: StoreSession, *, at_start: bool = False) -> int:
    """Mark failed the running runs whose worker died (same host) or stopped beating (any host).

    at_start: this process has just started, so a run recorded under its own host:pid is a previous
    process's (a restarted container is pid 1 again): dead, not alive. A running run whose heartbeat
    stopped is reaped even when a process of that pid lives: a live worker beats every few seconds.
    Queued runs are left alone: their job waits on the queue whichever process queued them (jobs).
    """
    now = utcnow()
    reaped = 0
    me = this_worker()
    running = select(SyncRun).where(SyncRun.status == "running").execution_options(all_workspaces=True)
    for run in session.scalars(running):
        alive = False if at_start and run.worker == me else _alive(run.worker)
        stale = run.heartbeat_at is None or now - run.heartbeat_at > STALE_AFTER
        if alive is False or stale:
            run.status = "failed"
            run.error = WORKER_STOPPED
            run.finished_at = now
            reaped += 1
    if reaped:
        session.flush()
    return reaped


# --- running ----------------------------------------------------------------------------------


def execute(
    sessions: sessionmaker[StoreSession],
    settings: Settings,
    *,
    workspace_id: str,
    run_id: str,
    progress: Progress = no_progress,
    stop: Stop | None = None,
) -> SyncRun:
    """Claim a queued run and carry it out; the run ends succeeded or failed, never half-applied.

    The source is checked again against the settings: one no longer allowed fails the run, nothing written.
    Setting `stop` ends the sync at its next progress step, failed as interrupted, nothing written.
    """
    if stop is not None:
        progress = _stoppable(progress, stop)
    with transaction(sessions, workspace_id) as session:
        claimed = session.execute(
            update(SyncRun)
            .where(SyncRun.id == run_id, SyncRun.status == "queued")
            .values(status="running", started_at=utcnow(), heartbeat_at=utcnow(), worker=this_worker())
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
    if not claimed:
        with transaction(sessions, workspace_id) as session:
            run = session.get(SyncRun, run_id)
            if run is None:
                raise NotFound("No such sync run.")
            return run
    beat = _Heartbeat(sessions, workspace_id, run_id)
    beat.start()
    status, error, stats = "failed", None, Stats()
    try:
        with transaction(sessions, workspace_id) as session:
            run = session.get(SyncRun, run_id)
            assert run is not None
            source = connector(settings, session.get_one(Integration, run.integration_id))
            integration_id = run.integration_id
        progress(0, 0, "reading the source")
        snapshot = source.read(progress)  # outside any store transaction: sources can be slow
        usage.prepare(snapshot)  # parsing its statement history too: the store's write lock is not held yet
        with transaction(sessions, workspace_id) as session:
            integration = session.get_one(Integration, integration_id)
            stats = apply(session, integration, snapshot, progress=progress)
            changed = stats.created + stats.updated + stats.deleted
            analyze_if_changed(session, changed=changed, total=changed + stats.unchanged + stats.refreshed)
            integration.last_synced_at = utcnow()
        # Before the run says succeeded, so a finished sync has its embeddings (apply() has committed by now).
        if stop is None or not stop.is_set():  # a stopping server leaves it to the next sync
            semantic.refresh_integration(sessions, workspace_id, integration_id, progress)  # never fails the sync
        status = "succeeded"
    except Interrupted:
        log.warning("sync %s interrupted: the server is stopping", run_id)
        error = INTERRUPTED
    except ConnectionFailed as exc:
        error = f"Could not read the source: {exc}"
    except DomainError as exc:  # e.g. source_not_allowed: the source was re-checked and refused
        error = exc.message
    except Exception as exc:  # the run records why; nothing was applied
        log.exception("sync %s failed", run_id)
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:400] if str(exc) else 'failed'}"
    finally:
        beat.stop()
    with transaction(sessions, workspace_id) as session:
        run = session.get(SyncRun, run_id)
        assert run is not None
        run.status, run.error, run.stats, run.finished_at = status, error, stats.as_dict(), utcnow()
    return run


def _stoppable(progress: Progress, stop: Stop) -> Progress:
    """Progress that raises Interrupted once `stop` is set; connectors and apply() report between steps."""

    def checked(done: int, total: int, what: str) -> None:
        if stop.is_set():
            raise Interrupted
        progress(done, total, what)

    return checked


class _Heartbeat:
    """Marks a run alive from a side thread, so other processes can tell a dead run from a long one."""

    def __init__(self, sessions: sessionmaker[StoreSession], workspace_id: str, run_id: str) -> None:
        self.sessions, self.workspace_id, self.run_id = sessions, workspace_id, run_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"sync-heartbeat-{run_id[:8]}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=HEARTBEAT_SECONDS * 2)

    def _loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                with transaction(self.sessions, self.workspace_id) as session:
                    session.execute(
                        update(SyncRun)
                        .where(SyncRun.id == self.run_id, SyncRun.status == "running")
                        .values(heartbeat_at=utcnow())
                        .execution_options(synchronize_session=False)
                    )
            except Exception as error:  # a busy store must not kill the sync
                if is_busy(error):  # expected on SQLite while this very sync holds the write lock
                    log.info("sync heartbeat skipped: the store is busy")
                else:
                    log.warning("sync heartbeat skipped", exc_info=True)


# --- applying a snapshot ----------------------------------------------------------------------


class _Writer:
    """Writes rows in chunks as the comparison goes, so memory stays flat on big sources."""

    def __init__(self, session: StoreSession, progress: Progress, total: int) -> None:
        self.connection = session.connection()
        self.progress, self.total, self.done = progress, total, 0
        # SQLite: index new rows in one statement at the end instead of one trigger run per row (6x faster).
        self.deferred: list[int] | None = self.connection.info.get(FTS_DEFERRED)
        self.first_rowid = 0
        if self.deferred is not None:
            self.first_rowid = int(
                self.connection.exec_driver_sql("SELECT coalesce(max(rowid), 0) FROM resource").scalar() or 0
            )
            self.deferred[0] = 1
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
        if self.deferred is not None:
            self.deferred[0] = 0  # whatever happened, single inserts are indexed by the trigger again

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


@dataclass
class _Existing:
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


def apply(
    session: StoreSession, integration: Integration, snapshot: Snapshot, *, progress: Progress = no_progress
) -> Stats:
    """Write a snapshot into the catalog in the caller's transaction."""
    workspace_id = integration.workspace_id
    stats = Stats()
    stats.extra["lineage_unparsed"] = lineage.annotate(snapshot)
    planned = plan(snapshot)
    by_history = usage.history_read(integration.type, snapshot)  # usage.record sets popularity then
    existing = _load_existing(session, integration.id)
    curated_tags = _curated_tags(session, [e.id for e in existing.values() if e.tags_curated])
    ids = {ext: row.id for ext, row in existing.items()}
    for item in planned.resources:
        ids.setdefault(item.external_id, new_id())
    inherited = resource_teams.integration_teams(session, workspace_id, integration.id)
    curated_teams = resource_teams.teams_of(session, [e.id for e in existing.values() if e.teams_curated])

    def teams_for(item: Planned) -> list[str]:
        own = curated_teams.get(ids[item.external_id])
        if own:
            return own
        parent = ids.get(item.parent) if item.parent else None
        if item.type == "column" and parent in curated_teams:
            return curated_teams[parent]
        return inherited

    revived: dict[str, list[str]] = {}
    now = utcnow()
    total = len(planned.resources)
    with _Writer(session, progress, total) as writer:
        refreshes: list[dict[str, Any]] = []
        tag_rows: list[dict[str, Any]] = []
        retagged: list[str] = []  # updated resources whose source tags replace their old ones
        owner_plan: dict[str, str] = {}
        terms: set[str] = set()
        for done, item in enumerate(planned.resources, 1):
            if done % 2000 == 0:
                progress(done, total, "comparing")
            old = existing.get(item.external_id)
            digest = item.content_hash()
            if old is not None and old.content_hash == digest and not old.deleted:
                popularity_moved = not by_history and old.source_popularity != item.popularity
                if old.row_estimate != item.row_estimate or popularity_moved:
                    refreshes.append(
                        {"b_id": old.id, "row_estimate": item.row_estimate, "source_popularity": item.popularity}
                    )
                else:
                    stats.unchanged += 1
                continue
            description = old.description if old is not None and old.description_curated else item.source_description
            tags = curated_tags.get(old.id, []) if old is not None and old.tags_curated else item.source_tags
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
                terms |= search.terms_of(search_name, search_body)
            values: dict[str, Any] = {
                "type": item.type,
                "name": item.name,
                "qualified_name": item.qualified_name,
                "parent_id": ids.get(item.parent) if item.parent else None,
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
                **resource_teams.scope_of(teams_for(item)),
            }
            if old is None:
                writer.insert(
                    {
                        **values,
                        "id": ids[item.external_id],
                        "workspace_id": workspace_id,
                        "integration_id": integration.id,
                        "external_id": item.external_id,
                        "created_at": now,
                        "description_curated": False,
                        "tags_curated": False,
                        "owners_curated": False,
                        "teams_curated": False,
                        "query_count": 0,
                    },
                    [
                        {"workspace_id": workspace_id, "resource_id": ids[item.external_id], "team_id": t}
                        for t in teams_for(item)
                    ],
                )
                stats.created += 1
            else:
                writer.update({"b_id": old.id, **values})
                if old.deleted:
                    revived[old.id] = teams_for(item)
                stats.updated += 1
            rid = ids[item.external_id]
            if old is None or not old.tags_curated:
                if old is not None:
                    retagged.append(rid)
                tag_rows += [{"workspace_id": workspace_id, "resource_id": rid, "tag": t} for t in item.source_tags]
            if item.source_owner and (old is None or not old.owners_curated):
                owner_plan[rid] = item.source_owner
        present = {item.external_id for item in planned.resources}
        vanished = [row.id for ext, row in existing.items() if ext not in present and not row.deleted]
        stats.deleted = len(vanished)
        stats.refreshed = len(refreshes)

        writer.flush()
        writer.close()
    if revived:
        resource_teams.write(session, workspace_id, revived)
    connection = session.connection()
    if refreshes:
        statement = (
            _table.update()
            .where(_table.c.id == bindparam("b_id"))
            .values(row_estimate=bindparam("row_estimate"), source_popularity=bindparam("source_popularity"))
        )
        connection.execute(statement, refreshes)
    for start in range(0, len(vanished), CHUNK):
        session.execute(
            update(Resource)
            .where(Resource.id.in_(vanished[start : start + CHUNK]))
            .values(deleted_at=now, search_scope="", scope_key="", updated_at=now)
            .execution_options(synchronize_session=False)
        )
    _write_tags(session, retagged, tag_rows)
    _write_source_owners(session, workspace_id, owner_plan)
    _write_edges(session, workspace_id, integration.id, planned, ids)
    stats.extra |= usage.record(session, integration, snapshot, ids)  # usage, popularity, query lineage
    search.remember_terms(session, workspace_id, terms)
    links.relink_dbt(session, workspace_id)
    session.flush()
    progress(total, total, "done")
    return stats


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


def run_now(
    sessions: sessionmaker[StoreSession],
    settings: Settings,
    caller: Caller,
    integration_id: str,
    progress: Progress = no_progress,
) -> tuple[SyncRun, bool]:
    """Queue and run a sync in this thread (the CLI); (run, False) when one was already active elsewhere."""
    with transaction(sessions, caller.workspace_id) as session:
        run, created = request_sync(session=session, caller=caller, integration_id=integration_id, trigger="manual")
        run_id = run.id
    if not created:
        return run, False
    return execute(sessions, settings, workspace_id=caller.workspace_id, run_id=run_id, progress=progress), True

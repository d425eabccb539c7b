"""Syncs: queue one per integration, run it in one transaction, and fail runs whose process died.

What a run writes, and how, is catalog.apply's; here is the run's life: queued, claimed, beating, finished.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from datadesk.access.caller import Caller
from datadesk.access.policy import Action, require
from datadesk.catalog import semantic, usage
from datadesk.catalog.apply import Stats, apply
from datadesk.catalog.integrations import connector, get_integration
from datadesk.catalog.models import Integration, SyncRun
from datadesk.connectors.base import ConnectionFailed, Progress, no_progress
from datadesk.db import StoreSession, analyze_if_changed, is_busy, transaction, utcnow
from datadesk.errors import DomainError, NotFound
from datadesk.settings import Settings

log = logging.getLogger("datadesk.sync")
STALE_AFTER = timedelta(seconds=45)  # a running run beats every HEARTBEAT_SECONDS
HEARTBEAT_SECONDS = 5.0
INTERRUPTED = "Interrupted: the worker stopped before the sync finished; nothing was applied. It was queued again."
WORKER_STOPPED = "The worker running this sync stopped before it finished; nothing was applied. It runs again."
TRIGGERS = ("manual", "schedule", "api")


class Stop(Protocol):
    """Asked between steps of a sync: once set, the sync ends there, rolled back (a threading.Event is one)."""

    def is_set(self) -> bool: ...


class Interrupted(Exception):
    """The server is stopping: the sync ends at its next step and its transaction rolls back."""


def this_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# Queues the job of a queued run in the session's transaction (or right after it commits).
Defer = Callable[[StoreSession, SyncRun], None]


# --- queueing and reaping ---------------------------------------------------------------------


def queue_sync(
    session: StoreSession, caller: Caller, integration_id: str, *, trigger: str, defer: Defer
) -> tuple[SyncRun, bool]:
    """Queue a sync the caller asked for (or return the active one, and False) with its job."""
    run, created = request_sync(session=session, caller=caller, integration_id=integration_id, trigger=trigger)
    if created:
        defer(session, run)
    return run, created


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


def last_runs(*, session: StoreSession, caller: Caller) -> dict[str, SyncRun]:
    """The latest run of every integration in the caller's workspace, by integration id, in one query."""
    require(caller, Action.read_workspace)
    order = (SyncRun.created_at.desc(), SyncRun.id.desc())
    ranked = (
        select(SyncRun.id, func.row_number().over(partition_by=SyncRun.integration_id, order_by=order).label("n"))
        .where(SyncRun.workspace_id == caller.workspace_id)
        .subquery()
    )
    runs = session.scalars(select(SyncRun).join(ranked, ranked.c.id == SyncRun.id).where(ranked.c.n == 1))
    return {run.integration_id: run for run in runs}


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

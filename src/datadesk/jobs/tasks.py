"""What each job does, whichever queue runs it (jobs.pg on PostgreSQL, jobs.local on SQLite).

A sync job carries its run's id. The run row says what happened to it: a job handed out again because
its worker stopped (killed, or stopped mid-sync) finds its run failed or still marked running under the
stopped worker, fails it as such, and runs the sync afresh as a new run, so a sync asked for is never
lost and never applied twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from datadesk.ai import history
from datadesk.catalog import sync
from datadesk.catalog.models import SyncRun
from datadesk.db import StoreSession, transaction, utcnow
from datadesk.jobs import schedules
from datadesk.settings import Settings

log = logging.getLogger("datadesk.jobs")

TICK_SECONDS = 5.0
RERUN_WITHIN = timedelta(days=1)  # a run its worker left behind longer ago is not run again


def run_sync(
    sessions: sessionmaker[StoreSession],
    settings: Settings,
    defer: sync.Defer,
    *,
    workspace_id: str,
    run_id: str,
    stop: sync.Stop | None = None,
) -> SyncRun:
    """Carry out a sync job; a run its worker left behind is failed and run again here as a new run."""
    run = sync.execute(sessions, settings, workspace_id=workspace_id, run_id=run_id, stop=stop)
    if run.status == "running" and run.worker != sync.this_worker():
        # Handed out again while its run still names the worker that stopped (heartbeats not yet stale).
        _fail_stopped(sessions, workspace_id, run)
        run = _load(sessions, workspace_id, run_id)
    if run.status == "failed" and run.error == sync.INTERRUPTED:
        # This worker is stopping: queue the sync again for another worker (or this one's next start).
        with transaction(sessions, workspace_id) as session:
            again = _again(session, run)
            if again is not None:
                defer(session, again)
        return run
    if run.status == "failed" and run.error == sync.WORKER_STOPPED:
        with transaction(sessions, workspace_id) as session:
            again = _again(session, run)
            again_id = again.id if again is not None else None
        if again_id is not None:
            log.info("sync run %s: its worker stopped; running it again as run %s", run_id, again_id)
            return sync.execute(sessions, settings, workspace_id=workspace_id, run_id=again_id, stop=stop)
    return run


def _load(sessions: sessionmaker[StoreSession], workspace_id: str, run_id: str) -> SyncRun:
    with transaction(sessions, workspace_id) as session:
        run = session.get_one(SyncRun, run_id)
        session.expunge(run)
        return run


def _fail_stopped(sessions: sessionmaker[StoreSession], workspace_id: str, run: SyncRun) -> None:
    with transaction(sessions, workspace_id) as session:
        session.execute(
            update(SyncRun)
            .where(SyncRun.id == run.id, SyncRun.status == "running", SyncRun.worker == run.worker)
            .values(status="failed", error=sync.WORKER_STOPPED, finished_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def _again(session: StoreSession, run: SyncRun) -> SyncRun | None:
    """A new queued run for a stopped one, unless a later run of the integration exists already."""
    later = session.scalar(
        select(SyncRun.id)
        .where(SyncRun.integration_id == run.integration_id, SyncRun.created_at > run.created_at)
        .limit(1)
    )
    if later is not None:
        return None
    again, created = sync.queue_run(
        session,
        workspace_id=run.workspace_id,
        integration_id=run.integration_id,
        trigger=run.trigger,
        requested_by=run.requested_by,
    )
    return again if created else None


def tick(sessions: sessionmaker[StoreSession], defer: sync.Defer, now: datetime | None = None) -> list[str]:
    """A worker's periodic round: fail runs whose worker died and queue them again, then fire due schedules."""
    with transaction(sessions) as session:
        sync.reap_stale(session)
        stopped = session.execute(
            select(SyncRun.workspace_id, SyncRun.id)
            .where(
                SyncRun.status == "failed",
                SyncRun.error == sync.WORKER_STOPPED,
                SyncRun.finished_at > (now or utcnow()) - RERUN_WITHIN,
            )
            .execution_options(all_workspaces=True)
        ).all()
    for workspace_id, run_id in stopped:
        with transaction(sessions, workspace_id) as session:
            again = _again(session, session.get_one(SyncRun, run_id))
            if again is not None:
                log.info("sync run %s: its worker stopped; queued again as run %s", run_id, again.id)
                defer(session, again)

    def queue_scheduled(session: StoreSession, workspace_id: str, integration_id: str) -> str | None:
        run, created = sync.queue_run(
            session, workspace_id=workspace_id, integration_id=integration_id, trigger="schedule"
        )
        if not created:
            return None
        defer(session, run)
        return run.id

    return schedules.fire_due(sessions, queue_scheduled, now)


def purge(sessions: sessionmaker[StoreSession]) -> int:
    """Delete the prompts past their workspace's retention."""
    return history.purge_expired(sessions)


def seconds_to_next_round(now: datetime | None = None) -> float:
    """Every TICK_SECONDS, and right after each minute begins, so a schedule's tick fires without delay."""
    now = now or datetime.now(UTC)
    to_minute = 60 - now.second - now.microsecond / 1e6 + 0.05
    return max(0.05, min(TICK_SECONDS, to_minute))

"""Jobs on PostgreSQL: procrastinate, with its tables in the store's own database.

A sync's job is inserted by procrastinate's own SQL function in the same transaction as its run, so a
run is queued exactly when its job is (LISTEN/NOTIFY wakes a worker at once). Workers run the jobs
(jobs.tasks), purge expired prompts once a day (a procrastinate periodic task), and every few seconds
and right after each minute begins: fail runs whose worker died, queue them again, hand the stalled
jobs of dead workers out again, and fire due schedules.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from procrastinate import App, JobContext, PsycopgConnector
from sqlalchemy import make_url, text
from sqlalchemy.orm import sessionmaker

from datadesk.catalog.models import SyncRun
from datadesk.db import StoreSession
from datadesk.jobs import tasks
from datadesk.settings import Settings

log = logging.getLogger("datadesk.jobs")
QUEUE = "datadesk"
SYNC_TASK = "datadesk.sync"
PURGE_TASK = "datadesk.purge_prompts"
HEARTBEAT_SECONDS = 5.0
STALLED_AFTER_SECONDS = 20.0  # a worker silent this long is dead: its jobs are handed out again
SHUTDOWN_GRACE_SECONDS = 5.0  # on SIGTERM, running syncs get this long before they stop at their next step

_DEFER = text(
    "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, 0, NULL, NULL, CAST(:args AS jsonb), NULL)"
    "::procrastinate_job_to_defer_v1])"
)


def defer(session: StoreSession, run: SyncRun) -> None:
    """Queue the job of a queued run in the session's own transaction: both commit, or neither."""
    args = json.dumps({"workspace_id": run.workspace_id, "run_id": run.id})
    session.execute(_DEFER, {"queue": QUEUE, "task": SYNC_TASK, "args": args})


def conninfo(database_url: str) -> str:
    """The store's SQLAlchemy URL as a libpq connection string for procrastinate's psycopg pool."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class _Aborted:
    """A sync's stop flag: set once procrastinate asks its job to abort (the worker is stopping)."""

    def __init__(self, context: JobContext) -> None:
        self._context = context

    def is_set(self) -> bool:
        return self._context.should_abort()


def make_app(sessions: sessionmaker[StoreSession], settings: Settings) -> App:
    """A procrastinate app with datadesk's tasks, on the store's database."""
    app = App(connector=PsycopgConnector(conninfo=conninfo(settings.database_url), min_size=1, max_size=4))

    @app.task(name=SYNC_TASK, queue=QUEUE, pass_context=True)
    def run_sync(context: JobContext, workspace_id: str, run_id: str) -> None:
        tasks.run_sync(sessions, settings, defer, workspace_id=workspace_id, run_id=run_id, stop=_Aborted(context))

    @app.periodic(cron="17 3 * * *", periodic_id="daily")
    @app.task(name=PURGE_TASK, queue=QUEUE, queueing_lock=PURGE_TASK)
    def purge_prompts(timestamp: int) -> None:
        tasks.purge(sessions)

    return app


async def run_worker(
    sessions: sessionmaker[StoreSession],
    settings: Settings,
    *,
    concurrency: int,
    install_signal_handlers: bool,
    stopping: asyncio.Event | None = None,
) -> None:
    """Run jobs and rounds until `stopping` is set or, with signal handlers, until SIGINT or SIGTERM.

    Stopping ends the worker, not the pool under it: procrastinate stops gracefully (running syncs finish, or
    stop at their next step and are queued again), then the pool closes.
    """
    app = make_app(sessions, settings)
    async with app.open_async():
        rounds = asyncio.create_task(_rounds(app, sessions))
        worker = asyncio.create_task(
            app.run_worker_async(
                queues=[QUEUE],
                concurrency=concurrency,
                name="datadesk",
                install_signal_handlers=install_signal_handlers,
                shutdown_graceful_timeout=SHUTDOWN_GRACE_SECONDS,
                update_heartbeat_interval=HEARTBEAT_SECONDS,
                stalled_worker_timeout=STALLED_AFTER_SECONDS,
                delete_jobs="successful",
            )
        )
        waits: set[asyncio.Future[Any]] = {worker}
        if stopping is not None:
            waits.add(asyncio.ensure_future(stopping.wait()))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (worker, *waits, rounds):
                task.cancel()
            await asyncio.gather(worker, *waits, rounds, return_exceptions=True)


async def _rounds(app: App, sessions: sessionmaker[StoreSession]) -> None:
    while True:
        try:
            await _hand_out_stalled(app)
            await asyncio.to_thread(tasks.tick, sessions, defer)
        except Exception:  # the next round retries; a round must never stop the worker
            log.exception("job round failed")
        await asyncio.sleep(tasks.seconds_to_next_round())


async def _hand_out_stalled(app: App) -> None:
    """Put back on the queue the sync jobs of workers that stopped beating; their task reruns the sync."""
    manager = app.job_manager
    stalled: Any = await manager.get_stalled_jobs(task_name=SYNC_TASK, seconds_since_heartbeat=STALLED_AFTER_SECONDS)
    for job in stalled:
        try:
            await manager.retry_job(job)
            log.info("sync job %s: its worker stopped; handed out again", job.id)
        except Exception:  # another worker handed it out first
            log.debug("could not hand out stalled job %s", job.id, exc_info=True)

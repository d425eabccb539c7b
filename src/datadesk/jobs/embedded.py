"""The jobs of one `serve` process: where it queues sync jobs, and the worker it runs unless --no-worker."""

from __future__ import annotations

import asyncio
import logging
import threading

from sqlalchemy.orm import sessionmaker

from datadesk.catalog.models import SyncRun
from datadesk.db import StoreSession
from datadesk.jobs import pg, tasks
from datadesk.jobs.local import LocalQueue
from datadesk.settings import Settings

log = logging.getLogger("datadesk.jobs")
CONCURRENCY = 2
STOP_MARGIN_SECONDS = 5.0


def on_postgres(settings: Settings) -> bool:
    return settings.database_url.startswith("postgresql")


class EmbeddedJobs:
    """On PostgreSQL a procrastinate worker on an event loop of its own; on SQLite the in-process worker.

    The procrastinate worker runs in a thread with its own loop, so neither a busy request loop nor a worker
    stopping while it still starts up can hold the other up.
    """

    def __init__(self, sessions: sessionmaker[StoreSession], settings: Settings) -> None:
        self._sessions, self._settings = sessions, settings
        self._postgres = on_postgres(settings)
        self._local = None if self._postgres else LocalQueue(sessions, settings, CONCURRENCY)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    def defer(self, session: StoreSession, run: SyncRun) -> None:
        if self._local is not None:
            self._local.defer(session, run)
        else:
            pg.defer(session, run)

    async def start(self) -> None:
        if not self._settings.run_jobs:
            return
        if self._local is not None:
            await asyncio.to_thread(self._local.start)
            return
        await asyncio.to_thread(tasks.purge, self._sessions)
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="datadesk-jobs", daemon=True)
        self._thread.start()
        await asyncio.to_thread(ready.wait)

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()

        async def main() -> None:
            self._stopping = asyncio.Event()
            ready.set()
            await pg.run_worker(
                self._sessions,
                self._settings,
                concurrency=CONCURRENCY,
                install_signal_handlers=False,
                stopping=self._stopping,
            )

        self._loop = loop
        try:
            loop.run_until_complete(main())
        except Exception:
            log.exception("the job worker stopped")
        finally:
            left = asyncio.all_tasks(loop)  # e.g. stopped while it was still starting up
            for task in left:
                task.cancel()
            if left:
                loop.run_until_complete(asyncio.wait(left, timeout=STOP_MARGIN_SECONDS))
            loop.close()

    async def stop(self) -> None:
        if self._local is not None:
            if self._settings.run_jobs:
                await asyncio.to_thread(self._local.shutdown)  # off the event loop: it waits for running syncs
            return
        thread, loop, stopping = self._thread, self._loop, self._stopping
        self._thread = None  # stopping twice stops once
        if thread is None or loop is None or stopping is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(stopping.set)
        await asyncio.to_thread(thread.join, pg.SHUTDOWN_GRACE_SECONDS + STOP_MARGIN_SECONDS)
        if thread.is_alive():
            log.warning("the job worker did not stop in time; its running syncs roll back with this process")

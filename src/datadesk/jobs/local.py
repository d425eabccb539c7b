"""The in-process worker of the embedded SQLite store, where procrastinate does not run.

The same task functions as on PostgreSQL (jobs.tasks), with the same semantics: a queued run is its
job (it waits in the store, so nothing queued is lost when the process stops), one run per integration
at a time (the store's unique active run), a run left by a stopped worker runs again. A few threads run
the syncs; one more ticks: it fails runs whose worker died, fires due schedules, picks up runs queued
by another process (or before a restart), and purges expired prompts once a day.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import datetime, timedelta

from sqlalchemy import event, select
from sqlalchemy.orm import sessionmaker

from datadesk.catalog.models import SyncRun
from datadesk.db import StoreSession, transaction, utcnow
from datadesk.jobs import tasks
from datadesk.settings import Settings

log = logging.getLogger("datadesk.jobs")
CONCURRENCY = 2
PURGE_EVERY_SECONDS = 24 * 3600
ADOPT_AFTER = timedelta(seconds=2)
# On SIGTERM: running syncs get SYNC_FINISH_SECONDS to finish, then SYNC_INTERRUPT_SECONDS to stop at their
# next step (rolled back and queued again). Queued runs stay queued in the store for the next start.
SYNC_FINISH_SECONDS = 5.0
SYNC_INTERRUPT_SECONDS = 2.0


class LocalQueue:
    """Runs sync jobs on a few daemon threads of this process, and ticks on one more."""

    def __init__(
        self, sessions: sessionmaker[StoreSession], settings: Settings, concurrency: int = CONCURRENCY
    ) -> None:
        self._sessions, self._settings, self._size = sessions, settings, concurrency
        self._jobs: queue.SimpleQueue[tuple[str, str] | None] = queue.SimpleQueue()
        self._known: set[str] = set()
        self._threads: list[threading.Thread] = []
        self._ticker: threading.Thread | None = None
        self._lock = threading.Lock()
        self._running = False
        self._closed = threading.Event()
        self._interrupt = threading.Event()

    # --- queueing --------------------------------------------------------------------------------

    def defer(self, session: StoreSession, run: SyncRun) -> None:
        """Queue a run's job once the session commits (before that, no thread could see the run)."""
        workspace_id, run_id = run.workspace_id, run.id
        event.listen(session, "after_commit", lambda _s: self._put(workspace_id, run_id), once=True)

    def _put(self, workspace_id: str, run_id: str) -> None:
        with self._lock:
            if not self._running or run_id in self._known:
                return  # not running jobs here: the run waits in the store for a process that does
            self._known.add(run_id)
            self._jobs.put((workspace_id, run_id))
            if len(self._threads) < self._size:
                thread = threading.Thread(target=self._work, name=f"datadesk-job-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()

    # --- running ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Start running jobs: those already queued in the store first, then ticking."""
        with self._lock:  # a stopped queue may start again
            self._running = True
            self._closed.clear()
            self._interrupt.clear()
            self._threads = [thread for thread in self._threads if thread.is_alive()]
        try:
            tasks.purge(self._sessions)
        except Exception:
            log.exception("prompt purge failed")
        self._ticker = threading.Thread(target=self._tick_loop, name="datadesk-jobs-tick", daemon=True)
        self._ticker.start()

    def tick(self, now: datetime | None = None) -> None:
        """One round: reap, fire due schedules, pick up runs queued elsewhere (tests call it with a clock)."""
        tasks.tick(self._sessions, self.defer, now)
        self._adopt()

    def _adopt(self) -> None:
        # A run queued a moment ago is its queuer's (this process's own threads, or `datadesk sync` about to run it).
        settled = utcnow() - ADOPT_AFTER
        with transaction(self._sessions) as session:
            queued = session.execute(
                select(SyncRun.workspace_id, SyncRun.id)
                .where(SyncRun.status == "queued", SyncRun.created_at < settled)
                .order_by(SyncRun.created_at)
                .execution_options(all_workspaces=True)
            ).all()
        for workspace_id, run_id in queued:
            self._put(workspace_id, run_id)

    def _tick_loop(self) -> None:
        next_purge = time.monotonic() + PURGE_EVERY_SECONDS
        while True:
            try:
                self.tick()
                if time.monotonic() >= next_purge:
                    next_purge = time.monotonic() + PURGE_EVERY_SECONDS
                    tasks.purge(self._sessions)
            except Exception:  # the next round retries; a tick must never take the server down
                log.exception("job tick failed")
            if self._closed.wait(tasks.seconds_to_next_round()):
                return

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            workspace_id, run_id = job
            try:
                tasks.run_sync(
                    self._sessions,
                    self._settings,
                    self.defer,
                    workspace_id=workspace_id,
                    run_id=run_id,
                    stop=self._interrupt,
                )
            except Exception:  # run_sync records its own failures; this is the store itself failing
                log.exception("sync %s could not run", run_id)
            finally:
                with self._lock:
                    self._known.discard(run_id)

    def shutdown(self) -> None:
        """Stop ticking, let running syncs finish for a while, then interrupt them; blocks at most ~7 s."""
        with self._lock:
            self._running = False
            self._closed.set()
            while True:  # queued jobs stay queued in the store; the next start picks them up
                try:
                    self._jobs.get_nowait()
                except queue.Empty:
                    break
            for _ in self._threads:
                self._jobs.put(None)
        if self._join(SYNC_FINISH_SECONDS):
            return
        log.warning("stopping: interrupting the running syncs; they roll back and are queued again")
        self._interrupt.set()
        if not self._join(SYNC_INTERRUPT_SECONDS):
            log.warning("stopping: a sync did not stop in time; nothing of it is committed, the next start reruns it")

    def _join(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

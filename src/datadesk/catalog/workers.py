"""The server's sync workers: a few daemon threads running queued syncs, and how they stop on SIGTERM."""

from __future__ import annotations

import logging
import queue
import threading
import time

from sqlalchemy.orm import sessionmaker

from datadesk.catalog import sync
from datadesk.db import StoreSession
from datadesk.settings import Settings

log = logging.getLogger("datadesk")
SYNC_THREADS = 2
# On SIGTERM, 10 s in all: open requests get cli.REQUESTS_GRACE_SECONDS, then running syncs get
# SYNC_FINISH_SECONDS to finish and SYNC_INTERRUPT_SECONDS to stop at their next step (rolled back).
SYNC_FINISH_SECONDS = 5.0
SYNC_INTERRUPT_SECONDS = 2.0


class SyncWorkers:
    """Runs queued syncs on a few daemon threads; stopping cancels queued ones and gives running ones a grace period.

    Daemon threads, so a sync stuck in one long source call cannot keep the process alive; if one is still
    running at exit, its transaction dies with the process and the next start's reap_stale fails the run.
    """

    def __init__(self, sessions: sessionmaker[StoreSession], settings: Settings, size: int = SYNC_THREADS) -> None:
        self._sessions, self._settings, self._size = sessions, settings, size
        self._jobs: queue.SimpleQueue[tuple[str, str] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False
        self._interrupt = threading.Event()

    def submit(self, workspace_id: str, run_id: str) -> None:
        with self._lock:
            if self._closed:
                self._cancel(workspace_id, run_id)
                return
            self._jobs.put((workspace_id, run_id))
            if len(self._threads) < self._size:
                thread = threading.Thread(target=self._work, name=f"datadesk-sync-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            workspace_id, run_id = job
            try:
                sync.execute(
                    self._sessions, self._settings, workspace_id=workspace_id, run_id=run_id, stop=self._interrupt
                )
            except Exception:  # execute records its own failures; this is the store itself failing
                log.exception("sync %s could not run", run_id)

    def _cancel(self, workspace_id: str, run_id: str) -> None:
        try:
            sync.cancel_queued(self._sessions, workspace_id=workspace_id, run_id=run_id)
        except Exception:  # the next start's reap_stale fails it instead
            log.exception("could not cancel queued sync %s", run_id)

    def shutdown(self) -> None:
        """Cancel queued syncs, let running ones finish for a while, then interrupt them; blocks at most ~7 s."""
        with self._lock:
            self._closed = True
            while True:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    self._cancel(*job)
            for _ in self._threads:
                self._jobs.put(None)
        if self._join(SYNC_FINISH_SECONDS):
            return
        log.warning("stopping: interrupting the running syncs; they roll back and are marked interrupted")
        self._interrupt.set()
        if not self._join(SYNC_INTERRUPT_SECONDS):
            log.warning("stopping: a sync did not stop in time; nothing of it is committed, the next start fails it")

    def _join(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

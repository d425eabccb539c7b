"""`datadesk worker`: a process that runs jobs until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import threading

from sqlalchemy.orm import sessionmaker

from datadesk.catalog import sync
from datadesk.db import StoreSession, transaction
from datadesk.jobs import pg
from datadesk.jobs.embedded import on_postgres
from datadesk.jobs.local import LocalQueue
from datadesk.settings import Settings


def run(sessions: sessionmaker[StoreSession], settings: Settings, *, concurrency: int) -> None:
    """Run jobs in this process; on SIGTERM running syncs get a few seconds, then stop at their next step."""
    with transaction(sessions) as session:
        sync.reap_stale(session, at_start=True)
    if on_postgres(settings):
        asyncio.run(pg.run_worker(sessions, settings, concurrency=concurrency, install_signal_handlers=True))
        return
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    local = LocalQueue(sessions, settings, concurrency)
    local.start()
    stop.wait()
    local.shutdown()

"""Firing sync schedules (catalog.schedule) once per tick, whichever workers look.

A due schedule fires by moving `next_sync_at` on with a compare-and-set, so of several workers looking at
the same tick one fires it; a tick missed while no worker ran fires once, when one next looks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from datadesk.catalog.models import Integration
from datadesk.catalog.schedule import next_tick
from datadesk.db import StoreSession, transaction, utcnow

log = logging.getLogger("datadesk.jobs")
# Queues a sync run of the integration in the session's transaction; returns the run id, or None if one was active.
QueueSync = Callable[[StoreSession, str, str], str | None]


def fire_due(sessions: sessionmaker[StoreSession], queue_sync: QueueSync, now: datetime | None = None) -> list[str]:
    """Queue a sync for every schedule whose tick has come, once per tick across all workers; returns the run ids."""
    now = now or utcnow()
    with transaction(sessions) as session:
        due = session.execute(
            select(Integration.id, Integration.workspace_id, Integration.schedule, Integration.next_sync_at)
            .where(Integration.schedule.is_not(None), Integration.next_sync_at <= now)
            .order_by(Integration.next_sync_at)
            .execution_options(all_workspaces=True)
        ).all()
    fired: list[str] = []
    for integration_id, workspace_id, schedule, tick in due:
        if schedule is None:
            continue
        try:
            with transaction(sessions, workspace_id) as session:
                moved = session.execute(
                    update(Integration)
                    .where(Integration.id == integration_id, Integration.next_sync_at == tick)
                    .values(next_sync_at=next_tick(schedule, now))
                    .execution_options(synchronize_session=False)
                ).rowcount  # type: ignore[attr-defined]
                if not moved:  # another worker fired this tick, or the schedule changed meanwhile
                    continue
                run_id = queue_sync(session, workspace_id, integration_id)
        except Exception:  # one integration's failure must not hold back the others' ticks
            log.exception("could not fire the schedule of integration %s", integration_id)
            continue
        if run_id is not None:
            fired.append(run_id)
    return fired

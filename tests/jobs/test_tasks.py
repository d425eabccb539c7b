"""Sync jobs on both stores: nothing queued is lost, a run its worker left behind runs again, jobs commit with runs."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from datadesk.catalog import sync
from datadesk.catalog.models import SyncRun
from datadesk.db import StoreSession, transaction, utcnow
from datadesk.jobs import pg, tasks
from datadesk.jobs.local import LocalQueue
from datadesk.settings import Settings
from tests.jobs.helpers import recorder, runs, shop_integration
from tests.world import World

Sessions = sessionmaker[StoreSession]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test app runs no jobs itself: each test decides who runs them."""
    return settings.model_copy(update={"run_jobs": False})


@pytest.fixture
def integration(client: TestClient, world: World, tmp_path: Path) -> str:
    return shop_integration(client, world, tmp_path)


def _wait_for(sessions: Sessions, workspace_id: str, run_id: str, timeout: float = 30) -> SyncRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with transaction(sessions, workspace_id) as session:
            run = session.get_one(SyncRun, run_id)
            if run.status in ("succeeded", "failed"):
                return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end")


def test_a_sync_asked_while_no_worker_runs_waits_and_the_next_worker_runs_it(
    client: TestClient, world: World, integration: str, sessions: Sessions, settings: Settings
) -> None:
    started = client.post(f"/api/v1/integrations/{integration}/sync", headers=world.a.admin.headers)
    assert started.status_code == 202 and started.json()["trigger"] == "api" and started.json()["worker"] == ""
    run_id = started.json()["id"]
    time.sleep(0.3)
    assert runs(sessions, world.a.id)[0].status == "queued"  # no worker: it waits, in the store
    worker = LocalQueue(sessions, settings)
    worker.start()
    try:
        run = _wait_for(sessions, world.a.id, run_id)
    finally:
        worker.shutdown()
    assert run.status == "succeeded" and run.worker == sync.this_worker() and run.trigger == "api"


def test_a_run_whose_worker_died_fails_as_such_and_runs_again_with_its_trigger(
    world: World, integration: str, sessions: Sessions, settings: Settings
) -> None:
    with transaction(sessions, world.a.id) as session:
        dead = SyncRun(
            integration_id=integration,
            status="running",
            trigger="schedule",
            worker=f"{sync.this_worker().rpartition(':')[0]}:999999",  # this host, a pid that does not live
            heartbeat_at=utcnow(),
        )
        session.add(dead)
    seen, defer = recorder()
    tasks.tick(sessions, defer)
    tasks.tick(sessions, defer)  # a second round (or worker) queues it once
    first, again = runs(sessions, world.a.id)
    assert (first.status, first.error) == ("failed", sync.WORKER_STOPPED)
    assert (again.status, again.trigger, seen) == ("queued", "schedule", [again.id])
    done = tasks.run_sync(sessions, settings, defer, workspace_id=world.a.id, run_id=again.id)
    assert done.status == "succeeded"
    tasks.tick(sessions, defer)
    assert len(runs(sessions, world.a.id)) == 2  # a stopped run with a later one is not run again


def test_a_job_handed_out_again_takes_over_the_run_its_stopped_worker_left(
    world: World, integration: str, sessions: Sessions, settings: Settings
) -> None:
    with transaction(sessions, world.a.id) as session:
        left = SyncRun(integration_id=integration, status="running", worker="another-host:7", heartbeat_at=utcnow())
        session.add(left)
    seen, defer = recorder()
    done = tasks.run_sync(sessions, settings, defer, workspace_id=world.a.id, run_id=left.id)
    first, again = runs(sessions, world.a.id)
    assert (first.status, first.error) == ("failed", sync.WORKER_STOPPED)
    assert done.id == again.id and done.status == "succeeded" and seen == []


def test_a_stopping_worker_rolls_its_sync_back_and_queues_it_again(
    client: TestClient, world: World, integration: str, sessions: Sessions, settings: Settings
) -> None:
    seen, defer = recorder()
    with transaction(sessions, world.a.id) as session:
        run, _ = sync.queue_sync(session, world.a.caller("admin"), integration, trigger="manual", defer=defer)
    stop = threading.Event()
    stop.set()
    ended = tasks.run_sync(sessions, settings, defer, workspace_id=world.a.id, run_id=run.id, stop=stop)
    assert (ended.status, ended.error) == ("failed", sync.INTERRUPTED)
    _first, again = runs(sessions, world.a.id)
    assert (again.status, again.trigger, again.requested_by) == ("queued", "manual", world.a.admin.id)
    assert seen == [run.id, again.id]


def test_a_job_commits_with_its_run_or_not_at_all(
    client: TestClient, world: World, integration: str, sessions: Sessions, settings: Settings
) -> None:
    postgres = settings.database_url.startswith("postgresql")
    local = LocalQueue(sessions, settings)
    defer = pg.defer if postgres else local.defer
    if not postgres:
        local.start()  # SQLite: the run is the job, handed to this process's threads once it commits
    caller = world.a.caller("admin")
    try:
        with pytest.raises(RuntimeError), transaction(sessions, world.a.id) as session:
            sync.queue_sync(session, caller, integration, trigger="api", defer=defer)
            raise RuntimeError("the request failed after queueing")
        assert runs(sessions, world.a.id) == []
        with transaction(sessions, world.a.id) as session:
            run, _ = sync.queue_sync(session, caller, integration, trigger="api", defer=defer)
        if postgres:
            with transaction(sessions) as session:
                jobs = session.execute(text("SELECT task_name, status, args FROM procrastinate_jobs")).all()
            assert jobs == [(pg.SYNC_TASK, "todo", {"workspace_id": world.a.id, "run_id": run.id})]
        else:
            assert _wait_for(sessions, world.a.id, run.id).status == "succeeded"
    finally:
        if not postgres:
            local.shutdown()

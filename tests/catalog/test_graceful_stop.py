"""Graceful stop: on SIGTERM `serve` stops, a running sync finishes or rolls back as interrupted, never half-applied."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from datadesk.catalog import sync
from datadesk.catalog.models import Resource, SyncRun
from datadesk.db import StoreSession, make_engine, make_sessionmaker, transaction
from datadesk.jobs.local import LocalQueue
from datadesk.settings import Settings
from tests.catalog.helpers import add_integration
from tests.catalog.sources import build_shop, execute
from tests.conftest import STORES, TEST_SECRET
from tests.dbs import fresh_pg_database
from tests.processes import DATADESK, free_port, wait_until_up
from tests.world import World

EMAIL, PASSWORD, WORKSPACE = "ada@example.com", "ada-password", "acme"
TABLES, COLUMNS = 6000, 8  # a first sync of about 54,000 resources: seconds of work, with many progress steps
EXITS_WITHIN = 15.0  # generous, not a timing: a server stuck waiting for its sync, or hung, exceeds it
Sessions = sessionmaker[StoreSession]
ENDED = (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM after its graceful shutdown


# --- in the process: the stop mechanism ------------------------------------------------------


@pytest.fixture
def shop(client: TestClient, world: World, tmp_path: Path) -> tuple[Path, str]:
    path = build_shop(tmp_path / "shop.db")
    return path, add_integration(client, world.a.admin, "shop", "sqlite", {"url": f"sqlite:///{path}"})["id"]


def _queue(sessions: Sessions, world: World, integration_id: str) -> str:
    with transaction(sessions, world.a.id) as session:
        run, created = sync.request_sync(session=session, caller=world.a.caller("admin"), integration_id=integration_id)
        assert created
        return run.id


def _names(sessions: Sessions, world: World) -> set[str]:
    with transaction(sessions, world.a.id) as session:
        return set(session.scalars(select(Resource.qualified_name).where(Resource.deleted_at.is_(None))))


def test_a_stop_while_writing_rolls_the_whole_sync_back(
    shop: tuple[Path, str], world: World, sessions: Sessions, settings: Settings
) -> None:
    path, integration_id = shop
    first = sync.execute(sessions, settings, workspace_id=world.a.id, run_id=_queue(sessions, world, integration_id))
    assert first.status == "succeeded"
    before = _names(sessions, world)
    execute(path, "CREATE TABLE refunds (id INTEGER PRIMARY KEY, reason TEXT); DROP TABLE order_items;")
    stop = threading.Event()

    def stop_once_writing(_done: int, _total: int, what: str) -> None:
        if what == "writing":  # rows are in the transaction now; the next step is interrupted
            stop.set()

    run_id = _queue(sessions, world, integration_id)
    run = sync.execute(
        sessions, settings, workspace_id=world.a.id, run_id=run_id, progress=stop_once_writing, stop=stop
    )
    assert stop.is_set()
    assert (run.status, run.error) == ("failed", sync.INTERRUPTED)
    assert _names(sessions, world) == before  # the old set, whole: nothing created, nothing marked deleted


def test_a_stop_before_the_read_ends_the_sync_without_reading(
    shop: tuple[Path, str], world: World, sessions: Sessions, settings: Settings
) -> None:
    stop = threading.Event()
    stop.set()
    run = sync.execute(sessions, settings, workspace_id=world.a.id, run_id=_queue(sessions, world, shop[1]), stop=stop)
    assert (run.status, run.error) == ("failed", sync.INTERRUPTED)
    assert _names(sessions, world) == set()


def test_stopping_leaves_queued_syncs_queued_for_the_next_start(
    shop: tuple[Path, str], world: World, sessions: Sessions, settings: Settings
) -> None:
    stopping = LocalQueue(sessions, settings)
    stopping.start()
    stopping.shutdown()
    with transaction(sessions, world.a.id) as session:  # a request answered while stopping
        late, _ = sync.queue_sync(session, world.a.caller("admin"), shop[1], trigger="api", defer=stopping.defer)
    with transaction(sessions, world.a.id) as session:
        assert session.get_one(SyncRun, late.id).status == "queued"
    restarted = LocalQueue(sessions, settings)
    restarted.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with transaction(sessions, world.a.id) as session:
                if session.get_one(SyncRun, late.id).status == "succeeded":
                    break
            time.sleep(0.05)
        else:
            raise AssertionError("the restarted worker did not run the queued sync")
    finally:
        restarted.shutdown()
    assert _names(sessions, world)


# --- a real `datadesk serve` and a real SIGTERM ----------------------------------------------


@pytest.fixture(scope="module")
def big_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sources") / "big.db"
    columns = ", ".join(["id INTEGER PRIMARY KEY", *(f"c{i} TEXT" for i in range(1, COLUMNS))])
    connection = sqlite3.connect(path)
    connection.executescript("".join(f"CREATE TABLE t{i:05d} ({columns});" for i in range(TABLES)))
    connection.close()
    return path


@pytest.fixture(scope="module", params=STORES)
def home(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, big_source: Path) -> Iterator[Any]:
    """A store (fresh SQLite home or PostgreSQL database) with a workspace, its admin and an API token."""
    root = tmp_path_factory.mktemp(f"home-{request.param}")
    env = {**os.environ, "DATADESK_HOME": str(root), "DATADESK_SECRET_KEY": TEST_SECRET}
    env["DATADESK_SOURCES_DIR"] = str(big_source.parent)
    env.pop("DATADESK_FORWARDED_ALLOW_IPS", None)
    with fresh_pg_database("dd_stop") if request.param == "postgres" else nullcontext() as pg_url:
        env.pop("DATADESK_DATABASE_URL", None)
        if pg_url:
            env["DATADESK_DATABASE_URL"] = pg_url
        _cli(env, "init", "--workspace", WORKSPACE, "--admin-email", EMAIL, "--admin-password", PASSWORD)
        token = _cli(env, "tokens", "create", "--workspace", WORKSPACE, "--email", EMAIL).strip()
        engine = make_engine(pg_url or f"sqlite:///{root / 'datadesk.db'}")
        yield env, {"authorization": f"Bearer {token}"}, make_sessionmaker(engine)
        engine.dispose()


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([DATADESK, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


class Served:
    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process, self.url = process, url

    def stop(self) -> tuple[int, str]:
        """SIGTERM, as a supervisor sends it; the exit code and the log once it exited (or fail after EXITS_WITHIN)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            _, log = self.process.communicate(timeout=EXITS_WITHIN)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, log = self.process.communicate()
            raise AssertionError(f"datadesk serve was still running {EXITS_WITHIN}s after SIGTERM:\n{log}") from None
        return self.process.returncode, log


@contextmanager
def _serve(env: dict[str, str], grace: float | None = None) -> Iterator[Served]:
    port = free_port()
    command = [DATADESK, "serve", "--port", str(port)]
    if grace is not None:  # the same command with a shorter grace period, so the sync surely outlasts it
        setup = (
            f"import datadesk.jobs.local as w, datadesk.jobs.pg as p; w.SYNC_FINISH_SECONDS = {grace}; "
            f"p.SHUTDOWN_GRACE_SECONDS = {grace}; import datadesk.cli"
        )
        command = [sys.executable, "-c", f"{setup}; datadesk.cli.app(['serve', '--port', '{port}'])"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(process, url)
        yield Served(process, url)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def _start_big_sync(served: Served, headers: dict[str, str], source: Path, name: str) -> tuple[str, str]:
    """Add an integration reading the big source and start its first sync; return once the run is running."""
    config = {"url": f"sqlite:///{source}"}
    added = httpx.post(
        f"{served.url}/api/v1/integrations",
        json={"name": name, "type": "sqlite", "config": config, "team_ids": []},
        headers=headers,
        timeout=30,
    )
    assert added.status_code == 201, added.text
    integration_id = added.json()["id"]
    started = httpx.post(f"{served.url}/api/v1/integrations/{integration_id}/sync", headers=headers, timeout=30)
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run = httpx.get(f"{served.url}/api/v1/integrations/{integration_id}/syncs/{run_id}", headers=headers).json()
        if run["status"] == "running":
            return integration_id, run_id
        assert run["status"] == "queued", run
        time.sleep(0.02)
    raise AssertionError("the sync never started")


def _outcome(sessions: Sessions, integration_id: str, run_id: str) -> tuple[str, str | None, int]:
    with transaction(sessions) as session:
        run = session.scalars(select(SyncRun).where(SyncRun.id == run_id).execution_options(all_workspaces=True)).one()
        count = session.scalar(
            select(func.count())
            .select_from(Resource)
            .where(Resource.integration_id == integration_id)
            .execution_options(all_workspaces=True)
        )
    return run.status, run.error, int(count or 0)


FULL = 1 + 1 + TABLES * (1 + COLUMNS)  # database, schema, tables and their columns


def test_sigterm_during_a_sync_exits_with_the_sync_finished_or_rolled_back(home: Any, big_source: Path) -> None:
    env, headers, sessions = home
    with _serve(env) as served:
        integration_id, run_id = _start_big_sync(served, headers, big_source, "big-default-grace")
        code, log = served.stop()
    assert code in ENDED, log
    status, error, count = _outcome(sessions, integration_id, run_id)
    print(f"run {status} ({error}), {count} resources")  # which of the two happened, for whoever reads -s
    assert (status, error, count) in {("succeeded", None, FULL), ("failed", sync.INTERRUPTED, 0)}, log
    # the queued run is its job: nothing is failed as not started, nothing is lost


def test_sigterm_interrupts_a_sync_that_outlasts_the_grace_period(home: Any, big_source: Path) -> None:
    env, headers, sessions = home
    with _serve(env, grace=0.0) as served:
        integration_id, run_id = _start_big_sync(served, headers, big_source, "big-no-grace")
        code, log = served.stop()
    assert code in ENDED, log
    assert _outcome(sessions, integration_id, run_id) == ("failed", sync.INTERRUPTED, 0), log
    with transaction(sessions) as session:  # queued again, for the next worker
        again = session.scalars(
            select(SyncRun.status)
            .where(SyncRun.integration_id == integration_id, SyncRun.id != run_id)
            .execution_options(all_workspaces=True)
        ).all()
    assert again == ["queued"], log


def test_sigterm_with_no_sync_running_exits_promptly(home: Any) -> None:
    env, _headers, _sessions = home
    with _serve(env) as served, httpx.Client() as idle:  # a kept-alive connection does not hold the server up
        assert idle.get(f"{served.url}/api/v1/health").status_code == 200
        code, log = served.stop()
    assert code in ENDED, log
    assert "Application shutdown complete" in log

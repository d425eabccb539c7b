"""Several processes on one PostgreSQL store: two `serve --no-worker` and two `datadesk worker`, started here.

One sync asked on both servers at once is one run; an every-minute schedule fires once per tick across both
workers; a worker stopped by SIGTERM mid-sync, or killed with -9, leaves its run failed and the other worker
runs the sync again to the end; nothing is ever half-applied.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from datadesk.catalog import sync
from datadesk.catalog.models import Resource, SyncRun
from datadesk.db import StoreSession, make_engine, make_sessionmaker, transaction
from tests.conftest import TEST_SECRET
from tests.dbs import fresh_pg_database
from tests.processes import DATADESK, free_port, stop, wait_until_up

ROOT = Path(__file__).resolve().parents[2]
EMAIL, PASSWORD, WORKSPACE = "ada@example.com", "ada-password", "acme"
TABLES, COLUMNS = 2000, 8
FULL = 1 + 1 + TABLES * (1 + COLUMNS)  # database, schema, tables and their columns
Sessions = sessionmaker[StoreSession]


@dataclass
class Cluster:
    env: dict[str, str]
    headers: dict[str, str]
    sessions: Sessions
    logs: Path
    servers: list[str] = field(default_factory=list)
    workers: dict[int, subprocess.Popen[Any]] = field(default_factory=dict)  # running now
    worker_pids: set[int] = field(default_factory=set)  # every worker started, stopped ones too
    processes: list[subprocess.Popen[Any]] = field(default_factory=list)

    def start_worker(self, grace: float | None = None) -> subprocess.Popen[Any]:
        log = (self.logs / f"worker-{len(self.processes)}.log").open("w")
        command = [DATADESK, "worker"]
        if grace is not None:  # the same command with a shorter grace period, so a sync surely outlasts it
            setup = f"import datadesk.jobs.pg as p; p.SHUTDOWN_GRACE_SECONDS = {grace}; import datadesk.cli"
            command = [sys.executable, "-c", f"{setup}; datadesk.cli.app(['worker'])"]
        process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.workers[process.pid] = process
        self.worker_pids.add(process.pid)
        self.processes.append(process)
        return process

    def start_server(self) -> None:
        port = free_port()
        log = (self.logs / f"serve-{port}.log").open("w")
        command = [DATADESK, "serve", "--no-worker", "--port", str(port)]
        process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_until_up(process, url, log=lambda: (self.logs / f"serve-{port}.log").read_text())
        self.servers.append(url)

    def api(self, server: int, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(
            method, f"{self.servers[server]}/api/v1{path}", headers=self.headers, timeout=30, **kwargs
        )
        assert response.status_code < 300, response.text
        return response.json()

    def add(self, name: str, source: Path, schedule: str | None = None) -> str:
        body = {"name": name, "type": "sqlite", "config": {"url": f"sqlite:///{source}"}, "schedule": schedule}
        return str(self.api(0, "POST", "/integrations", json=body)["id"])

    def runs(self, integration_id: str) -> list[SyncRun]:
        with transaction(self.sessions) as session:
            return list(
                session.scalars(
                    select(SyncRun)
                    .where(SyncRun.integration_id == integration_id)
                    .order_by(SyncRun.created_at)
                    .execution_options(all_workspaces=True)
                )
            )

    def resources(self, integration_id: str) -> int:
        with transaction(self.sessions) as session:
            query = select(func.count()).select_from(Resource).where(Resource.integration_id == integration_id)
            return int(session.scalar(query.execution_options(all_workspaces=True)) or 0)

    def wait(self, integration_id: str, until: Any, seconds: float = 90) -> list[SyncRun]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            runs = self.runs(integration_id)
            if until(runs):
                return runs
            time.sleep(0.1)
        raise AssertionError(f"runs never got there: {[(r.status, r.error, r.worker) for r in runs]}\n{self.log()}")

    def log(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.logs.glob("*.log")))


def _source(path: Path, tables: int) -> Path:
    columns = ", ".join(["id INTEGER PRIMARY KEY", *(f"c{i} TEXT" for i in range(1, COLUMNS))])
    connection = sqlite3.connect(path)
    connection.executescript("".join(f"CREATE TABLE t{i:05d} ({columns});" for i in range(tables)))
    connection.close()
    return path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    sources = tmp_path_factory.mktemp("cluster-sources")
    (sources / "logs").mkdir()
    with fresh_pg_database("dd_jobs") as url:
        env = {**os.environ, "DATADESK_HOME": str(root), "DATADESK_SECRET_KEY": TEST_SECRET}
        env.update({"DATADESK_DATABASE_URL": url, "DATADESK_SOURCES_DIR": str(sources)})
        env.pop("DATADESK_FORWARDED_ALLOW_IPS", None)
        for args in (
            ["init", "--workspace", WORKSPACE, "--admin-email", EMAIL, "--admin-password", PASSWORD],
            ["tokens", "create", "--workspace", WORKSPACE, "--email", EMAIL],
        ):
            done = subprocess.run([DATADESK, *args], env=env, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
        engine = make_engine(url)
        cluster = Cluster(
            env, {"authorization": f"Bearer {done.stdout.strip()}"}, make_sessionmaker(engine), sources / "logs"
        )
        try:
            cluster.start_server()
            cluster.start_server()
            cluster.start_worker()
            cluster.start_worker()
            yield cluster
        finally:
            for process in cluster.processes:
                if process.poll() is None:
                    stop(process)
            engine.dispose()


@pytest.fixture(scope="module")
def big(cluster: Cluster) -> Path:
    return _source(cluster.logs.parent / "big.db", TABLES)


@pytest.fixture(scope="module")
def minutely(cluster: Cluster) -> str:
    """An integration synced every minute from the first test on (the last test checks its runs)."""
    return cluster.add("minutely", _source(cluster.logs.parent / "minutely.db", 5), schedule="* * * * *")


def _ran_on_a_worker(run: SyncRun, cluster: Cluster) -> bool:
    return int(run.worker.rpartition(":")[2]) in cluster.worker_pids  # a worker, never a server


def test_a_sync_asked_on_both_servers_at_once_is_one_run(cluster: Cluster, minutely: str) -> None:
    integration_id = cluster.add("small", _source(cluster.logs.parent / "small.db", 20))
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda i: cluster.api(i % 2, "POST", f"/integrations/{integration_id}/sync"), range(4)))
    assert len({a["id"] for a in answers}) == 1, answers
    assert {a["trigger"] for a in answers} == {"api"}
    (run,) = cluster.wait(integration_id, lambda runs: runs and runs[-1].status == "succeeded")
    assert _ran_on_a_worker(run, cluster) and run.trigger == "api"
    assert cluster.resources(integration_id) == 1 + 1 + 20 * (1 + COLUMNS)


def test_the_example_nginx_config_spreads_requests_over_both_servers(cluster: Cluster, tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx is not installed: .ci/run installs Debian's nginx-light"
    port = free_port()
    config = (ROOT / "deploy" / "nginx.conf").read_text()
    upstreams = re.findall(r"server 127\.0\.0\.1:\d+;", config)
    assert len(upstreams) == 2 and "listen 8080;" in config
    for line, server in zip(upstreams, cluster.servers, strict=True):
        config = config.replace(line, f"server {server.removeprefix('http://')};")
    (tmp_path / "nginx.conf").write_text(config.replace("listen 8080;", f"listen 127.0.0.1:{port};"))
    (tmp_path / "logs").mkdir()
    settings = f"daemon off; master_process off; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;"
    command = [nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", settings]
    proxy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(proxy, url, log=lambda: (tmp_path / "error.log").read_text())
        before = [len(log.read_text().splitlines()) for log in sorted(cluster.logs.glob("serve-*.log"))]
        for _ in range(6):
            listed = httpx.get(f"{url}/api/v1/integrations", headers=cluster.headers, timeout=30)
            assert listed.status_code == 200, listed.text
        after = [len(log.read_text().splitlines()) for log in sorted(cluster.logs.glob("serve-*.log"))]
        assert all(a > b for a, b in zip(after, before, strict=True)), (before, after)  # both servers answered
        login = httpx.post(
            f"{url}/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD, "workspace": WORKSPACE}, timeout=30
        )
        assert login.status_code == 200, login.text
    finally:
        stop(proxy)


def test_a_worker_stopped_by_sigterm_mid_sync_rolls_back_and_queues_it_again(cluster: Cluster, big: Path) -> None:
    for pid in list(cluster.workers):  # one worker only, whose grace period any sync outlasts
        stop(cluster.workers.pop(pid))
    victim = cluster.start_worker(grace=0.0)
    integration_id = cluster.add("big-sigterm", big)
    started = cluster.api(0, "POST", f"/integrations/{integration_id}/sync")
    cluster.wait(integration_id, lambda runs: runs[0].status == "running", seconds=60)
    victim.send_signal(signal.SIGTERM)
    assert victim.wait(timeout=30) == 0, cluster.log()
    cluster.workers.pop(victim.pid)
    first, again = cluster.runs(integration_id)
    assert (first.id, first.status, first.error) == (started["id"], "failed", sync.INTERRUPTED)
    assert (again.status, again.trigger) == ("queued", "api")
    assert cluster.resources(integration_id) == 0  # rolled back whole
    cluster.start_worker()
    cluster.start_worker()
    runs = cluster.wait(integration_id, lambda runs: runs[-1].status == "succeeded", seconds=120)
    assert len(runs) == 2 and _ran_on_a_worker(runs[-1], cluster)
    assert cluster.resources(integration_id) == FULL


def test_a_worker_killed_mid_sync_fails_its_run_and_the_other_finishes_the_sync(cluster: Cluster, big: Path) -> None:
    integration_id = cluster.add("big-kill", big)
    cluster.api(1, "POST", f"/integrations/{integration_id}/sync")
    runs = cluster.wait(integration_id, lambda runs: runs[0].status == "running" and runs[0].worker, seconds=60)
    victim = cluster.workers.pop(int(runs[0].worker.rpartition(":")[2]))
    victim.kill()
    victim.wait()
    killed_at = time.monotonic()
    runs = cluster.wait(integration_id, lambda runs: runs[0].status == "failed", seconds=60)
    assert runs[0].error == sync.WORKER_STOPPED
    assert cluster.resources(integration_id) == 0  # never half-applied
    runs = cluster.wait(integration_id, lambda runs: len(runs) == 2 and runs[1].status == "succeeded", seconds=120)
    print(f"run failed and re-run finished {time.monotonic() - killed_at:.1f} s after the kill")
    assert runs[1].trigger == "api" and _ran_on_a_worker(runs[1], cluster)
    assert cluster.resources(integration_id) == FULL


def test_an_every_minute_schedule_fires_once_per_tick_across_both_workers(cluster: Cluster, minutely: str) -> None:
    """Scheduled since the module began, so its ticks passed while the other tests ran, workers stopping included."""
    runs = cluster.wait(minutely, lambda runs: sum(r.status == "succeeded" for r in runs) >= 2, seconds=150)
    cluster.api(0, "PATCH", f"/integrations/{minutely}", json={"schedule": None})
    runs = cluster.wait(minutely, lambda runs: all(r.status in ("succeeded", "failed") for r in runs), seconds=60)
    stopped = (sync.INTERRUPTED, sync.WORKER_STOPPED)  # a worker stopped under it: it ran again, as a new run
    assert all(r.status == "succeeded" or r.error in stopped for r in runs), [(r.status, r.error) for r in runs]
    assert runs[-1].status == "succeeded"
    fired = [r for i, r in enumerate(runs) if i == 0 or runs[i - 1].error not in stopped]
    ticks = [r.created_at.replace(second=0, microsecond=0) for r in fired]
    assert len(set(ticks)) == len(fired), [(r.created_at, r.worker) for r in runs]  # never twice in a minute
    assert all(r.trigger == "schedule" and _ran_on_a_worker(r, cluster) for r in runs), [
        (r.trigger, r.status, r.worker, sorted(cluster.workers)) for r in runs
    ]
    on_time = [(r.created_at - tick).total_seconds() for r, tick in zip(fired, ticks, strict=True)]
    assert min(on_time) < 10, on_time  # with a worker up, a tick fires within seconds

"""SQLite as a multi-user store: a sync, 20 asks and reads at once never answer 500; a busy store answers 503."""

from __future__ import annotations

import importlib
import logging
import os
import shutil
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from datadesk.ai import assistant
from datadesk.ai.models import LlmCall, Prompt
from datadesk.ai.providers.base import ChatRequest, ChatResponse, Deadline, WireLog
from datadesk.ai.providers.local import LocalProvider
from datadesk.app import create_app
from datadesk.catalog import sync as sync_service
from datadesk.catalog.models import Integration, SyncRun
from datadesk.db import CATALOG_TABLES, StoreSession, is_busy, transaction
from datadesk.deps import SLOW_WRITES, WRITE_METHODS
from datadesk.identity.models import ApiToken
from datadesk.settings import Settings
from datadesk.sql.models import QueryRun
from tests.catalog.helpers import add_integration, sync
from tests.catalog.sources import build_shop
from tests.conftest import TEST_SECRET
from tests.processes import DATADESK, free_port, stop, wait_until_up
from tests.web.conftest import sign_in
from tests.world import Person, World, build_world

EMAIL, PASSWORD, WORKSPACE = "ada@example.com", "ada-password", "acme"
TABLES = 1000  # first sync plus its embeddings outlast the clients starting, with margin
ASKS = 20
ROUNDS = 3
QUESTIONS = [
    "which tables have a column like email?",
    "who owns orders_{n}?",
    "describe the table customers_{n}",
    "what feeds orders_{n}?",
    "most popular tables",
]
READS = [
    "/api/v1/search?q=orders",
    "/api/v1/search?q=customer email",
    "/api/v1/resources?limit=50",
    "/api/v1/ai/prompts",
    "/api/v1/teams",
]


@dataclass
class Served:
    url: str
    home: Path
    log: Path


@dataclass
class Outcome:
    what: str
    status: int
    retry_after: str | None
    code: str | None

    @classmethod
    def of(cls, what: str, response: httpx.Response) -> Outcome:
        code = None
        if response.status_code >= 400 and response.headers.get("content-type", "").startswith("application/json"):
            code = response.json().get("error", {}).get("code")
        return cls(what, response.status_code, response.headers.get("retry-after"), code)

    @property
    def acceptable(self) -> bool:
        """200, or 503 store_busy with Retry-After; never a 500."""
        if self.status == 200:
            return True
        return self.status == 503 and self.code == "store_busy" and bool(self.retry_after)


def _wide_source(path: Path, tables: int) -> None:
    """A SQLite source with many tables, so that its first sync writes thousands of resources."""
    conn = sqlite3.connect(path)
    for n in range(tables):
        kind = "orders" if n % 2 else "customers"
        columns = ", ".join(f"col_{c} TEXT" for c in range(8))
        conn.execute(f"CREATE TABLE {kind}_{n} (id INTEGER PRIMARY KEY, email TEXT, amount INTEGER, {columns})")
    conn.commit()
    conn.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`datadesk serve` on the embedded SQLite store, with one workspace and its admin from `datadesk init`."""
    root = tmp_path_factory.mktemp("concurrency")
    home = root / "home"
    (home / "sources").mkdir(parents=True)
    env = {**os.environ, "DATADESK_HOME": str(home), "DATADESK_SECRET_KEY": TEST_SECRET}
    for name in ("DATADESK_DATABASE_URL", "DATADESK_SOURCES_DIR", "DATADESK_SOURCES_HOSTS"):
        env.pop(name, None)
    init = ["init", "--workspace", WORKSPACE, "--name", "Acme", "--admin-email", EMAIL, "--admin-password", PASSWORD]
    done = subprocess.run([DATADESK, *init], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    port = free_port()
    log = root / "serve.log"
    with log.open("w") as sink:
        server = subprocess.Popen([DATADESK, "serve", "--port", str(port)], env=env, stdout=sink, stderr=sink)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(server, url, log.read_text)
        yield Served(url, home, log)
    finally:
        stop(server, 30)


def test_a_sync_with_twenty_asks_and_reads_at_once_never_answers_500(served: Served) -> None:
    source = served.home / "sources" / "wide.db"
    _wide_source(source, TABLES)
    # No keep-alive: a connection the server closed while idle must not pass for an error of the server.
    limits = httpx.Limits(max_connections=2 * ASKS + 10, max_keepalive_connections=0)
    with httpx.Client(base_url=served.url, timeout=300, limits=limits) as http:
        login = http.post("/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD, "workspace": WORKSPACE})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        # One person asks all 20 questions: the per-minute limit is not what this test is about.
        limit = http.put("/api/v1/settings/ai", json={"questions_per_minute": 0}, headers=headers)
        assert limit.status_code == 200, limit.text
        created = http.post(
            "/api/v1/integrations",
            json={"name": "wide", "type": "sqlite", "config": {"url": f"sqlite:///{source}"}},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        integration_id = created.json()["id"]

        # A token per client, as each person's browser or script has its own: each token's last use gets stamped.
        tokens = []
        for n in range(2 * ASKS):
            created = http.post("/api/v1/auth/tokens", json={"name": f"client {n}"}, headers=headers)
            assert created.status_code == 201, created.text
            tokens.append({"Authorization": f"Bearer {created.json()['token']}"})

        def ask(client: int, n: int) -> Outcome:
            question = QUESTIONS[n % len(QUESTIONS)].format(n=n)
            response = http.post("/api/v1/ai/ask", json={"question": question}, headers=tokens[client])
            return Outcome.of("ask", response)

        def read(client: int, n: int) -> Outcome:
            path = READS[n % len(READS)]
            return Outcome.of(path, http.get(path, headers=tokens[client]))

        def run_status(run_id: str) -> str:
            response = http.get(f"/api/v1/integrations/{integration_id}/syncs/{run_id}", headers=headers)
            assert response.status_code == 200, response.text
            return str(response.json()["status"])

        started = http.post(f"/api/v1/integrations/{integration_id}/sync", headers=headers)
        assert started.status_code == 202, started.text
        run_id = started.json()["id"]
        sync_ended = threading.Event()

        def client(job: Callable[[int, int], Outcome], number: int) -> list[Outcome]:
            """One client: ask (or read) again and again until the sync has ended, at least ROUNDS times."""
            done: list[Outcome] = []
            while len(done) < ROUNDS or not sync_ended.is_set():
                done.append(job(number, number + len(done)))
            return done

        with ThreadPoolExecutor(max_workers=2 * ASKS) as pool:
            futures = [pool.submit(client, ask, n) for n in range(ASKS)] + [
                pool.submit(client, read, ASKS + n) for n in range(ASKS)
            ]
            overlapped = run_status(run_id) in ("queued", "running")
            while run_status(run_id) in ("queued", "running"):
                time.sleep(0.2)
            sync_ended.set()
            outcomes = [outcome for future in futures for outcome in future.result()]
        assert run_status(run_id) == "succeeded"
    assert overlapped, "the sync ended before the clients started: make the source bigger"
    bad = [o for o in outcomes if not o.acceptable]
    summary = Counter((o.what, o.status, o.code) for o in outcomes)
    assert not bad, f"{len(bad)} of {len(outcomes)} answers were neither 200 nor 503 store_busy: {summary}"
    assert sum(o.status == 200 and o.what == "ask" for o in outcomes) >= ASKS // 2, summary
    errors = _server_errors(served.log.read_text())
    assert not errors, errors


def _server_errors(log: str) -> str:
    """The first traceback (or 'database is locked') the server logged, with what came before it."""
    lines = log.splitlines()
    for n, line in enumerate(lines):
        if "Traceback" in line or "database is locked" in line:
            return "\n".join(lines[max(0, n - 5) : n + 60])
    return ""


# --- a busy store answers 503, reads go on, asks hold no lock while the provider answers ---------------


def _app(tmp_path: Path, template: Path, **overrides: Any) -> tuple[FastAPI, Path]:
    """An app on a copy of the migrated SQLite template, with some store settings overridden."""
    path = tmp_path / "datadesk.db"
    shutil.copy(template, path)
    settings = Settings(
        home=tmp_path / "home",
        database_url=f"sqlite:///{path}",
        secret_key=TEST_SECRET,
        sources_dir=str(tmp_path),
        **overrides,
    )
    return create_app(settings), path


@contextmanager
def _write_lock(path: Path) -> Iterator[None]:
    """Hold the SQLite store's write lock from another connection, as a long writer would."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def _write_lock_free(path: Path) -> bool:
    probe = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()


def _last_used(sessions: sessionmaker[StoreSession], person: Person) -> list[datetime | None]:
    with transaction(sessions) as session:
        query = select(ApiToken.last_used_at).where(ApiToken.user_id == person.id, ApiToken.name == "test")
        return list(session.scalars(query.execution_options(all_workspaces=True)))


def _store_busy(response: Any) -> bool:
    """503 with a Retry-After of whole seconds (a TestClient or an httpx response)."""
    return response.status_code == 503 and response.headers.get("retry-after", "").isdigit()


def test_a_write_kept_waiting_past_the_busy_timeout_answers_503_and_reads_go_on(
    tmp_path: Path, sqlite_template: Path
) -> None:
    app, path = _app(tmp_path, sqlite_template, store_busy_timeout=0.2)
    with TestClient(app, raise_server_exceptions=False) as client:
        world = build_world(app.state.sessions)
        csrf = sign_in(client, world.a.viewer)
        with _write_lock(path):
            api = client.post("/api/v1/teams", json={"name": "Busy"}, headers=world.a.admin.headers)
            page = client.post(f"/teams/{world.a.teams['Finance']}/join", data={"csrf_token": csrf})
            # A read stays a read: its token's last use is stamped apart, and skipped while the store is busy.
            read = client.get("/api/v1/teams", headers=world.a.viewer.headers)
            assert _last_used(app.state.sessions, world.a.viewer) == [None]
        assert _store_busy(api) and api.json()["error"]["code"] == "store_busy", api.text
        assert _store_busy(page) and page.headers["content-type"].startswith("text/html"), page.text
        assert read.status_code == 200, read.text
        again = client.post("/api/v1/teams", json={"name": "Busy"}, headers=world.a.admin.headers)
        assert again.status_code == 201, again.text
        assert client.get("/api/v1/teams", headers=world.a.viewer.headers).status_code == 200
        assert _last_used(app.state.sessions, world.a.viewer) != [None]
    app.state.engine.dispose()


def test_a_heartbeat_kept_out_by_a_busy_store_is_skipped_quietly_and_beats_again_after(
    tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """On SQLite a long sync holds the write lock its own heartbeat needs: that is expected, not an error."""
    app, path = _app(tmp_path, sqlite_template, store_busy_timeout=0.05)
    sessions = app.state.sessions
    world = build_world(sessions)
    with transaction(sessions, world.a.id) as session:
        integration = Integration(name="shop", type="sqlite", config_encrypted="-")
        session.add(integration)
        session.flush()
        run = SyncRun(integration_id=integration.id, status="running", heartbeat_at=None)
        session.add(run)
        session.flush()
        run_id = run.id
    monkeypatch.setattr(sync_service, "HEARTBEAT_SECONDS", 0.05)
    beat = sync_service._Heartbeat(sessions, world.a.id, run_id)
    with caplog.at_level(logging.INFO, logger=sync_service.log.name):
        with _write_lock(path):
            beat.start()
            time.sleep(0.5)
            skipped = [r for r in caplog.records if "heartbeat skipped" in r.getMessage()]
        time.sleep(0.3)
        beat.stop()
    assert skipped and all(r.exc_info is None and r.levelno == logging.INFO for r in skipped)
    with transaction(sessions, world.a.id) as session:
        assert session.get(SyncRun, run_id).heartbeat_at is not None  # type: ignore[union-attr]
    app.state.engine.dispose()


def test_no_free_store_connection_in_time_answers_503(settings: Settings) -> None:
    app = create_app(
        settings.model_copy(update={"store_pool_size": 1, "store_pool_overflow": 0, "store_pool_timeout": 0.2})
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        world = build_world(app.state.sessions)
        with app.state.engine.connect():  # the pool's only connection
            busy = client.get("/api/v1/teams", headers=world.a.viewer.headers)
        assert _store_busy(busy) and busy.json()["error"]["code"] == "store_busy", busy.text
        assert client.get("/api/v1/teams", headers=world.a.viewer.headers).status_code == 200
    app.state.engine.dispose()


class _Probe(LocalProvider):
    """The local provider, noting at each turn whether another connection could take the store's write lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_free: list[bool] = []

    def complete(self, request: ChatRequest, wire: WireLog, deadline: Deadline) -> ChatResponse:
        self.lock_free.append(_write_lock_free(self.path))
        return super().complete(request, wire, deadline)


@contextmanager
def _probed_ask(
    tmp_path: Path, sqlite_template: Path, question: str, *, run_sql: bool = False
) -> Iterator[tuple[Any, _Probe, StoreSession]]:
    """An admin's ask on the shop warehouse with a probing provider; then a session to check what was written."""
    app, path = _app(tmp_path, sqlite_template)
    sessions = app.state.sessions
    with TestClient(app, raise_server_exceptions=False) as client:
        world = build_world(sessions)
        admin = world.a.admin
        settings = {"questions_per_minute": 0, "run_sql_enabled": run_sql}
        assert client.put("/api/v1/settings/ai", json=settings, headers=admin.headers).is_success
        shop = add_integration(
            client, admin, "shop", "sqlite", {"url": f"sqlite:///{build_shop(tmp_path / 'shop.db')}"}
        )
        assert sync(client, admin, shop["id"])["status"] == "succeeded"
        if run_sql:
            permissions = f"/api/v1/integrations/{shop['id']}/permissions"
            grant = {"query_access": ["role:admin"]}
            assert client.put(permissions, json=grant, headers=admin.headers).is_success
        probe = _Probe(path)
        with transaction(sessions, world.a.id) as session:
            answer = assistant.ask(
                session=session,
                caller=world.a.caller("admin"),
                settings=app.state.settings,
                question=question,
                provider=probe,
            )
        with transaction(sessions, world.a.id) as session:
            yield answer, probe, session
    app.state.engine.dispose()


def test_an_ask_holds_no_write_lock_while_its_provider_answers(tmp_path: Path, sqlite_template: Path) -> None:
    with _probed_ask(tmp_path, sqlite_template, "what feeds big_orders?") as (answer, probe, session):
        assert answer.error is None and "big_orders" in answer.prompt.answer
        assert len(probe.lock_free) >= 2 and all(probe.lock_free), probe.lock_free
        calls = session.scalars(select(LlmCall).where(LlmCall.prompt_id == answer.prompt.id)).all()
        assert len(calls) == len(probe.lock_free)
        assert session.get(Prompt, answer.prompt.id) is not None


def test_an_ask_that_ran_sql_holds_no_write_lock_while_it_asks_on(tmp_path: Path, sqlite_template: Path) -> None:
    """The query log and popularity count of a run_sql are written apart, not left open in the ask's session."""
    with _probed_ask(tmp_path, sqlite_template, "how many orders are there?", run_sql=True) as (answer, probe, session):
        assert answer.error is None, answer.prompt.answer
        assert len(probe.lock_free) >= 2 and all(probe.lock_free), probe.lock_free
        assert session.scalars(select(QueryRun).where(QueryRun.source == "assistant")).all()


class _Crash(LocalProvider):
    """The local provider, with a fault of the server's own at its second turn."""

    turns = 0

    def complete(self, request: ChatRequest, wire: WireLog, deadline: Deadline) -> ChatResponse:
        self.turns += 1
        if self.turns == 2:
            raise RuntimeError("a bug, not a provider error")
        return super().complete(request, wire, deadline)


def test_an_ask_that_fails_unexpectedly_keeps_the_audit_of_what_left(
    client: TestClient, world: World, sessions: sessionmaker[StoreSession], tmp_path: Path
) -> None:
    admin = world.a.admin
    shop = add_integration(client, admin, "shop", "sqlite", {"url": f"sqlite:///{build_shop(tmp_path / 'shop.db')}"})
    assert sync(client, admin, shop["id"])["status"] == "succeeded"
    with pytest.raises(RuntimeError), transaction(sessions, world.a.id) as session:
        assistant.ask(
            session=session,
            caller=world.a.caller("admin"),
            settings=client.app.state.settings,  # type: ignore[attr-defined]
            question="what feeds big_orders?",
            provider=_Crash(),
        )
    with transaction(sessions, world.a.id) as session:
        assert len(session.scalars(select(LlmCall)).all()) == 1  # the first turn's request
        assert session.scalars(select(Prompt)).all() == []


def test_routes_that_write_late_are_real_routes() -> None:
    """A renamed slow route would silently take the write lock for its whole length: the names must resolve."""
    for name in SLOW_WRITES:
        module, _, function = name.partition(":")
        routes = importlib.import_module(module).router.routes
        assert any(
            isinstance(route, APIRoute) and route.endpoint.__qualname__ == function and route.methods & WRITE_METHODS
            for route in routes
        ), name


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("orig", "busy"),
    [
        (sqlite3.OperationalError("database is locked"), True),
        (sqlite3.OperationalError("no such table: x"), False),
        (_PgError("55P03"), True),  # lock_not_available
        (_PgError("53300"), True),  # too_many_connections
        (_PgError("42P01"), False),  # undefined_table
    ],
)
def test_which_store_errors_are_busy(orig: Exception, busy: bool) -> None:
    assert is_busy(OperationalError("SELECT 1", {}, orig)) is busy


def test_a_sync_that_changed_much_refreshes_the_planner_statistics(
    client: TestClient, world: World, sessions: sessionmaker[StoreSession], tmp_path: Path
) -> None:
    source = tmp_path / "wide.db"
    _wide_source(source, 60)
    before = datetime.now(UTC)
    integration = add_integration(client, world.a.admin, "wide", "sqlite", {"url": f"sqlite:///{source}"})
    assert sync(client, world.a.admin, integration["id"])["status"] == "succeeded"
    with transaction(sessions) as session:
        if session.get_bind().dialect.name == "sqlite":
            analysed = set(session.scalars(text("SELECT tbl FROM sqlite_stat1")))
            expected = {"resource", "resource_team"}  # SQLite keeps no statistics of an empty table
        else:
            query = "SELECT relname FROM pg_stat_user_tables WHERE last_analyze >= :before"
            analysed = set(session.scalars(text(query), {"before": before}))
            expected = set(CATALOG_TABLES)
    assert expected <= analysed, analysed

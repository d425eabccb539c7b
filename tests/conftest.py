"""Apps per test on both catalog stores (SQLite and a fresh PostgreSQL database per run)."""

from __future__ import annotations

import copy
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Table, select, text

from datadesk import store
from datadesk.app import create_app
from datadesk.db import Base, StoreSession, make_engine, make_sessionmaker
from datadesk.settings import Settings
from tests.dbs import fresh_pg_database
from tests.world import World, build_world

WorldRows = list[tuple[Table, list[dict[str, Any]]]]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
STORES = [s for s in os.environ.get("DATADESK_TEST_STORES", "sqlite,postgres").split(",") if s]
TEST_SECRET = "test-secret-key-not-for-production-0123456789"
# The job queue's own tables in a PostgreSQL store (jobs.pg), emptied with the store's between tests.
PROCRASTINATE_TABLES = (
    "procrastinate_jobs",
    "procrastinate_events",
    "procrastinate_periodic_defers",
    "procrastinate_workers",
)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite store, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "store.db"
    engine = make_engine(f"sqlite:///{path}")
    store.upgrade(engine)
    with engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_store() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, migrated once, dropped at the end."""
    with fresh_pg_database("dd_store") as url:
        engine = make_engine(url)
        store.upgrade(engine)
        engine.dispose()
        yield url


def _empty_postgres(url: str) -> None:
    """Delete every row: a test leaves a few, and DELETE costs milliseconds where TRUNCATE of every table costs
    half a second (it replaces each table's files). The replica role skips the foreign-key triggers."""
    engine = make_engine(url)
    names = [f'"{t.name}"' for t in reversed(Base.metadata.sorted_tables)] + list(PROCRASTINATE_TABLES)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            ";".join(["SET LOCAL session_replication_role = replica"] + [f"DELETE FROM {n}" for n in names])
        )
    engine.dispose()


@pytest.fixture(params=STORES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The catalog store of one test: a copy of the SQLite template, or the emptied PostgreSQL store."""
    if request.param == "sqlite":
        path = tmp_path / "datadesk.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_store")
        _empty_postgres(url)
        yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Sources may live in the test's tmp_path and tests/fixtures; the store (and home) in tmp_path stay refused."""
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        secret_key=TEST_SECRET,
        sources_dir=os.pathsep.join([str(tmp_path), str(FIXTURES)]),
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def sessions(app: FastAPI):  # type: ignore[no-untyped-def]
    return app.state.sessions


@pytest.fixture
def db(sessions) -> Iterator[StoreSession]:  # type: ignore[no-untyped-def]
    """A plain (unsealed) session on the test's store for setting up and checking state."""
    session = sessions()
    yield session
    session.close()


@pytest.fixture(scope="session")
def world_rows(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[World, WorldRows]:
    """The world built once through the services in a scratch store, and its rows table by table, parents first."""
    path = tmp_path_factory.mktemp("world") / "store.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    built = build_world(make_sessionmaker(engine))
    with engine.connect() as conn:
        rows = [(t, [dict(r) for r in conn.execute(select(t)).mappings()]) for t in Base.metadata.sorted_tables]
    engine.dispose()
    return built, [(t, r) for t, r in rows if r]


@pytest.fixture
def world(sessions, world_rows: tuple[World, WorldRows]) -> World:  # type: ignore[no-untyped-def]
    """Two workspaces, each with an admin, an editor and a viewer, Teams and tokens.

    Copied into the test's store from the one built at start (a few inserts, not some hundred statements):
    every test gets the same ids and tokens.
    """
    built, rows = world_rows
    with sessions.kw["bind"].begin() as conn:
        for table, table_rows in rows:
            conn.execute(table.insert(), table_rows)
    return copy.deepcopy(built)  # tests may change a Person's Teams


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """Argon2 at its production cost dominates set-up time; tests only need it to be Argon2."""
    from argon2 import PasswordHasher

    from datadesk.identity import security

    original = security._hasher
    security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    security._hasher = original

"""Sources live where the operator says: the store, the key file and DATADESK_HOME are no one's source.

Every refused target below is a real SQLite database a connector would open happily, so a refusal can
only come from the sources check, never from a failed connection.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from datadesk.app import create_app
from datadesk.catalog.models import Integration, Resource
from datadesk.connectors.sources import FILE_REFUSED, SourceNotAllowed, check_source
from datadesk.db import transaction
from datadesk.errors import error_body
from datadesk.settings import Settings
from tests.catalog.helpers import add_integration, sync
from tests.catalog.sources import build_shop
from tests.conftest import FIXTURES
from tests.dbs import PG_HOST, PG_PORT, PG_USER, fresh_pg_database
from tests.world import PASSWORD, World

SECRET = "s3cret-Pa55word-never-echoed"
JAFFLE = FIXTURES / "dbt" / "jaffle-shop"


@pytest.fixture
def own_files(settings: Settings, tmp_path: Path) -> dict[str, Path]:
    """datadesk's own files, each made a real SQLite database (the store already is one)."""
    (settings.home / "sources").mkdir(parents=True)
    files = {
        "the key file": build_shop(settings.key_file),
        "a file in DATADESK_HOME outside sources/": build_shop(settings.home / "logs.db"),
    }
    store = make_url(settings.database_url)
    if store.get_backend_name() == "sqlite":
        assert store.database and Path(store.database).parent == tmp_path  # inside the sources folder
        files["the store"] = Path(store.database)
    return files


def posted(client: TestClient, world: World, type: str, config: dict[str, str], name: str = "attempt") -> Any:
    return client.post(
        "/api/v1/integrations",
        json={"name": name, "type": type, "config": config, "team_ids": []},
        headers=world.a.admin.headers,
    )


def integration_count(sessions: Any, workspace_id: str) -> int:
    with transaction(sessions, workspace_id) as session:
        return int(session.scalar(select(func.count()).select_from(Integration)) or 0)


def assert_refused(response: Any, setting: str = "DATADESK_SOURCES_DIR") -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "source_not_allowed" and setting in error["message"], error
    assert SECRET not in response.text


def _encoded(path: Path) -> str:
    return "".join(f"%{byte:02X}" for byte in str(path).encode())


def _symlink(link: Path, target: Path) -> Path:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    return link


# (name, builds the config for a target file given tmp_path): every one must be refused.
Trick = Callable[[Path, Path], tuple[str, dict[str, str]]]
TRICKS: dict[str, Trick] = {
    "the path itself": lambda t, _tmp: ("sqlite", {"url": f"sqlite:///{t}"}),
    "as DuckDB": lambda t, _tmp: ("duckdb", {"url": f"duckdb:///{t}"}),
    "dot-dot segments": lambda t, tmp: (
        "sqlite",
        {"url": f"sqlite:///{tmp}/home/sources/../../{t.relative_to(tmp)}"},
    ),
    "dot-dot through a missing folder": lambda t, tmp: (
        "sqlite",
        {"url": f"sqlite:///{tmp}/nowhere/at/all/../../../{t.relative_to(tmp)}"},
    ),
    "extra slashes and dots": lambda t, tmp: ("sqlite", {"url": f"sqlite:///{tmp}//./{t.relative_to(tmp)}"}),
    "a symlink in the sources folder": lambda t, tmp: (
        "sqlite",
        {"url": f"sqlite:///{_symlink(tmp / 'links' / 'innocent.db', t)}"},
    ),
    "a symlink in DATADESK_HOME/sources": lambda t, tmp: (
        "sqlite",
        {"url": f"sqlite:///{_symlink(tmp / 'home' / 'sources' / 'innocent.db', t)}"},
    ),
    "a symlinked folder": lambda t, tmp: (
        "sqlite",
        {"url": f"sqlite:///{_symlink(tmp / 'folder-link', t.parent)}/{t.name}"},
    ),
    "a symlink chain": lambda t, tmp: (
        "sqlite",
        {"url": f"sqlite:///{_symlink(tmp / 'a.db', _symlink(tmp / 'links' / 'b.db', t))}"},
    ),
    "a hard link": lambda t, tmp: ("sqlite", {"url": f"sqlite:///{_hard_link(t, tmp / 'hard.db')}"}),
    "a file: URI": lambda t, _tmp: ("sqlite", {"url": f"sqlite:///file:{t}?mode=rw&uri=true"}),
    "a file:// URI": lambda t, _tmp: ("sqlite", {"url": f"sqlite:///file://{t}?uri=true"}),
    "percent-encoded": lambda t, _tmp: ("sqlite", {"url": f"sqlite:///{_encoded(t)}"}),
    "percent-encoded dot-dot": lambda t, tmp: (
        "sqlite",
        {"url": f"sqlite:///{tmp}/home/sources/%2E%2E/%2E%2E/{t.relative_to(tmp)}"},
    ),
    "a home-relative path": lambda t, tmp: ("sqlite", {"url": f"sqlite:///~/{t.relative_to(tmp)}"}),
    "a relative path": lambda t, _tmp: ("sqlite", {"url": f"sqlite:///{os.path.relpath(t)}"}),
    "a dbt manifest": lambda t, _tmp: (
        "dbt",
        {"manifest_path": str(t), "catalog_path": str(JAFFLE / "catalog.json")},
    ),
    "a dbt catalog": lambda t, _tmp: (
        "dbt",
        {"manifest_path": str(JAFFLE / "manifest.json"), "catalog_path": str(t)},
    ),
    "a dbt path with ~": lambda t, tmp: ("dbt", {"manifest_path": f"~/{t.relative_to(tmp)}"}),
}


def _hard_link(target: Path, link: Path) -> Path:
    os.link(target, link)
    return link


@pytest.mark.parametrize("trick", TRICKS)
def test_datadesks_own_files_are_refused_by_every_path_trick(
    client: TestClient,
    world: World,
    sessions: Any,
    own_files: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    trick: str,
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    for what, target in own_files.items():
        if trick == "a hard link" and what not in ("the store", "the key file"):
            continue  # hard links are told apart by identity for the store and key file only
        for stale in (tmp_path / "links", tmp_path / "folder-link", tmp_path / "a.db", tmp_path / "hard.db"):
            if stale.is_symlink() or stale.is_file():
                stale.unlink()
            elif stale.is_dir():
                shutil.rmtree(stale)
        (tmp_path / "home" / "sources" / "innocent.db").unlink(missing_ok=True)
        type, config = TRICKS[trick](target, tmp_path)
        response = posted(client, world, type, config)
        assert response.status_code == 400 and response.json()["error"]["code"] == "source_not_allowed", (
            what,
            config,
            response.text,
        )
        assert "DATADESK_SOURCES_DIR" in response.json()["error"]["message"]
    assert integration_count(sessions, world.a.id) == 0


def test_files_in_the_sources_folders_are_allowed(
    client: TestClient, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    import duckdb

    shop = build_shop(tmp_path / "shop.db")
    warehouse = tmp_path / "data" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    duckdb.connect(str(warehouse)).close()
    (settings.home / "sources").mkdir(parents=True)
    own = build_shop(settings.home / "sources" / "own.db")
    monkeypatch.setenv("HOME", str(tmp_path))
    allowed = {
        "sqlite": ("sqlite", {"url": f"sqlite:///{shop}"}),
        "duckdb": ("duckdb", {"url": f"duckdb:///{warehouse}"}),
        "in DATADESK_HOME/sources": ("sqlite", {"url": f"sqlite:///{own}"}),
        "percent-encoded": ("sqlite", {"url": f"sqlite:///{_encoded(shop)}"}),
        "~": ("sqlite", {"url": "sqlite:///~/shop.db"}),
        "dot-dot staying inside": ("sqlite", {"url": f"sqlite:///{tmp_path}/data/../shop.db"}),
        "a symlink to an allowed file": ("sqlite", {"url": f"sqlite:///{_symlink(tmp_path / 'l' / 's.db', shop)}"}),
        "dbt": ("dbt", {"manifest_path": str(JAFFLE / "manifest.json"), "catalog_path": str(JAFFLE / "catalog.json")}),
    }
    for what, (type, config) in allowed.items():
        response = posted(client, world, type, config, name=what)
        assert response.status_code == 201, (what, response.text)


def test_a_symlinked_sources_folder_allows_what_it_points_to(database_url: str, tmp_path: Path) -> None:
    real = tmp_path / "real-sources"
    real.mkdir()
    shop = build_shop(real / "shop.db")
    link = _symlink(tmp_path / "sources-link", real)
    settings = Settings(home=tmp_path / "home", database_url=database_url, secret_key="x" * 32, sources_dir=str(link))
    check_source(settings, "sqlite", {"url": f"sqlite:///{link / 'shop.db'}"})
    check_source(settings, "sqlite", {"url": f"sqlite:///{shop}"})  # the same file by its real name
    with pytest.raises(SourceNotAllowed):
        check_source(settings, "sqlite", {"url": f"sqlite:///{build_shop(tmp_path / 'beside.db')}"})


def test_a_sources_folder_containing_home_still_refuses_home(database_url: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "sources").mkdir(parents=True)
    settings = Settings(home=home, database_url=database_url, secret_key="x" * 32, sources_dir=str(tmp_path))
    check_source(settings, "sqlite", {"url": f"sqlite:///{build_shop(home / 'sources' / 'ok.db')}"})
    for refused in (home / "secret.key", home / "datadesk.db", home / "logs" / "x.db", home / "sourcesx.db", home):
        with pytest.raises(SourceNotAllowed, match="DATADESK_SOURCES_DIR"):
            check_source(settings, "sqlite", {"url": f"sqlite:///{refused}"})
        with pytest.raises(SourceNotAllowed):
            check_source(settings, "dbt", {"manifest_path": str(refused)})


def test_the_default_sources_folder_is_under_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATADESK_SOURCES_DIR", raising=False)
    settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'datadesk.db'}", secret_key="x" * 32)
    check_source(settings, "sqlite", {"url": f"sqlite:///{tmp_path / 'sources' / 'a.db'}"})
    with pytest.raises(SourceNotAllowed):
        check_source(settings, "sqlite", {"url": f"sqlite:///{tmp_path / 'elsewhere.db'}"})


# --- servers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # a SQLite store: see the path tricks
def test_the_postgresql_store_is_refused_as_a_source(
    client: TestClient, world: World, settings: Settings, sessions: Any
) -> None:
    store = make_url(settings.database_url)
    db = store.database
    assert store.host == PG_HOST == "127.0.0.1" and store.port == PG_PORT
    variants = [
        f"postgresql://{PG_USER}:{SECRET}@127.0.0.1:{PG_PORT}/{db}",
        f"postgresql+psycopg://{PG_USER}:{SECRET}@localhost/{db}",  # default port
        f"postgresql://{PG_USER}:{SECRET}@[::1]:{PG_PORT}/{db}",
        f"postgresql://{PG_USER}:{SECRET}@127.0.0.2:{PG_PORT}/{db}",  # all of 127/8 is loopback
        f"postgresql://{PG_USER}:{SECRET}@0.0.0.0:{PG_PORT}/{db}",
        f"postgresql://{PG_USER}:{SECRET}@[::ffff:127.0.0.1]:{PG_PORT}/{db}",
        f"postgresql://{PG_USER}:{SECRET}@/{db}?host=/var/run/postgresql",  # the local socket
        f"postgresql://{PG_USER}:{SECRET}@db.example.com/other?host=127.0.0.1&dbname={db}",  # query overrides
        f"postgresql://{PG_USER}:{SECRET}@db.example.com,localhost/{db}",  # a host list
        f"postgresql://{PG_USER}:{SECRET}@db.example.com/other?service=datadesk",  # target hidden in a service
        f"postgresql://{PG_USER}:{SECRET}@db.example.com/host%3D127.0.0.1%20dbname%3D{db}",  # a conninfo as dbname
    ]
    for url in variants:
        response = posted(client, world, "postgres", {"url": url})
        assert response.status_code == 400 and response.json()["error"]["code"] == "source_not_allowed", (
            url,
            response.text,
        )
        assert SECRET not in response.text
    assert integration_count(sessions, world.a.id) == 0
    # Another database on the same server is a source like any other.
    with fresh_pg_database("dd_src") as other:
        add_integration(client, world.a.admin, "same server", "postgres", {"url": other})


def test_sources_hosts_limits_database_hosts(settings: Settings, world: World, sessions: Any) -> None:
    limited = settings.model_copy(update={"sources_hosts": "*.internal, db1.example.com"})
    app = create_app(limited)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            for url in (
                f"postgresql://reader:{SECRET}@127.0.0.1:5432/shop",
                f"postgresql://reader:{SECRET}@db2.example.com/shop",
                f"postgresql://reader:{SECRET}@db.internal/shop?host=127.0.0.1",
                f"postgresql://reader:{SECRET}@db.internal.evil.com/shop",
                f"mysql+pymysql://root:{SECRET}@127.0.0.1:3306/shop",
            ):
                type = "mysql" if url.startswith("mysql") else "postgres"
                assert_refused(posted(client, world, type, {"url": url}), "DATADESK_SOURCES_HOSTS")
            # A matching host passes the check and goes on to the connection test (which fails: no such host).
            for url in (f"postgresql://reader:{SECRET}@warehouse.internal/shop", "mysql+pymysql://r@DB1.example.com/s"):
                response = posted(client, world, "mysql" if url.startswith("mysql") else "postgres", {"url": url})
                assert response.json()["error"]["code"] == "connection_failed", response.text
                assert SECRET not in response.text
    finally:
        app.state.engine.dispose()
    assert integration_count(sessions, world.a.id) == 0


# --- PATCH, the CLI's and pages' doors, and the sync re-check --------------------------------


def test_patch_to_a_refused_path_changes_nothing(
    client: TestClient, world: World, own_files: dict[str, Path], tmp_path: Path
) -> None:
    shop = build_shop(tmp_path / "shop.db")
    created = add_integration(client, world.a.admin, "shop", "sqlite", {"url": f"sqlite:///{shop}"})
    for target in own_files.values():
        response = client.patch(
            f"/api/v1/integrations/{created['id']}",
            json={"name": "renamed", "config": {"url": f"sqlite:///{target}"}},
            headers=world.a.admin.headers,
        )
        assert_refused(response)
    dbt = add_integration(client, world.a.admin, "dbt", "dbt", {"manifest_path": str(JAFFLE / "manifest.json")})
    for key in ("manifest_path", "catalog_path"):
        response = client.patch(
            f"/api/v1/integrations/{dbt['id']}",
            json={"config": {"manifest_path": str(JAFFLE / "manifest.json"), key: str(own_files["the key file"])}},
            headers=world.a.admin.headers,
        )
        assert_refused(response)
    now = client.get(f"/api/v1/integrations/{created['id']}", headers=world.a.admin.headers).json()
    assert now["name"] == "shop" and now["config"] == {"url": f"sqlite:///{shop}"}
    assert client.get(f"/api/v1/integrations/{dbt['id']}", headers=world.a.admin.headers).json()["config"] == {
        "manifest_path": str(JAFFLE / "manifest.json")
    }


def test_the_admin_page_refuses_with_the_same_sentence(
    client: TestClient, world: World, own_files: dict[str, Path], sessions: Any
) -> None:
    client.cookies.clear()
    csrf = re.compile(r'name="csrf-token" content="([^"]+)"')
    token = csrf.findall(client.get("/login").text)[0]
    client.post(
        "/login",
        data={"email": world.a.admin.email, "password": PASSWORD, "workspace": "alpha", "csrf_token": token},
    )
    token = csrf.findall(client.get("/").text)[0]
    for target in own_files.values():
        page = client.post(
            "/admin/integrations",
            data={"name": "x", "type": "sqlite", "url": f"sqlite:///{target}", "csrf_token": token},
            follow_redirects=False,
        )
        assert page.status_code == 400 and "DATADESK_SOURCES_DIR" in page.text
    assert integration_count(sessions, world.a.id) == 0


@pytest.fixture
def moved_app(settings: Settings, tmp_path: Path) -> Iterator[FastAPI]:
    """A second app on the same store whose operator moved the sources folder elsewhere."""
    (tmp_path / "elsewhere").mkdir()
    app = create_app(settings.model_copy(update={"sources_dir": str(tmp_path / "elsewhere")}))
    yield app
    app.state.engine.dispose()


def _resources(sessions: Any, workspace_id: str) -> list[tuple[str, str, Any]]:
    with transaction(sessions, workspace_id) as session:
        rows = session.execute(select(Resource.id, Resource.qualified_name, Resource.deleted_at).order_by(Resource.id))
        return [tuple(row) for row in rows]


def test_a_sync_rechecks_its_source(
    client: TestClient, world: World, sessions: Any, moved_app: FastAPI, tmp_path: Path
) -> None:
    shop = build_shop(tmp_path / "shop.db")
    integration = add_integration(client, world.a.admin, "shop", "sqlite", {"url": f"sqlite:///{shop}"})
    assert sync(client, world.a.admin, integration["id"])["status"] == "succeeded"
    before = _resources(sessions, world.a.id)
    with sqlite3.connect(shop) as conn:  # the source changes: a permitted sync would write
        conn.execute("CREATE TABLE refunds (id INTEGER)")
    jobs = client.app.state.jobs  # type: ignore[attr-defined]
    client.portal.call(jobs.stop)  # type: ignore[union-attr]  # the moved app's worker alone runs this sync
    with TestClient(moved_app, raise_server_exceptions=False) as moved:
        run = sync(moved, world.a.admin, integration["id"])
    client.portal.call(jobs.start)  # type: ignore[union-attr]
    assert run["status"] == "failed" and run["error"] == FILE_REFUSED
    assert run["stats"]["created"] == run["stats"]["updated"] == run["stats"]["deleted"] == 0
    assert _resources(sessions, world.a.id) == before
    # Where the file is still allowed, the same integration syncs.
    assert sync(client, world.a.admin, integration["id"])["stats"]["created"] == 2


def test_refusals_never_echo_the_config(settings: Settings) -> None:
    url = f"sqlite:///{settings.home}/{SECRET}.db"
    with pytest.raises(SourceNotAllowed) as refused:
        check_source(settings, "sqlite", {"url": url})
    assert SECRET not in json.dumps(error_body(refused.value.code, refused.value.message))

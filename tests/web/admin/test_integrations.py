"""The admin integration pages: editing a connection (tested first, never echoing a password, admins only) and the
list's last sync error, fetched without a query per integration."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from datadesk.catalog.integrations import config_of
from datadesk.catalog.models import Integration, SyncRun
from datadesk.db import StoreSession, transaction
from datadesk.identity import audit
from datadesk.settings import Settings
from tests.catalog.helpers import add_integration
from tests.catalog.sources import build_shop
from tests.catalog.test_integrations import SECRET_PASSWORD, pg_url
from tests.dbs import PG_HOST
from tests.web.conftest import sign_in
from tests.world import World

Sessions = sessionmaker[StoreSession]
MASKED = pg_url().replace(SECRET_PASSWORD, "***")


def _stored_url(sessions: Sessions, world: World, settings: Settings, integration_id: str) -> str:
    with transaction(sessions, world.a.id) as session:
        integration = session.get(Integration, integration_id)
        assert integration is not None
        return config_of(settings.secret_key, integration)["url"]


def _url_field(page: str) -> str:
    found = re.search(r'<input type="text" name="url" value="([^"]*)"', page)
    assert found, "no URL field"
    return html.unescape(found.group(1))


@pytest.fixture
def warehouse_pg(client: TestClient, world: World) -> str:
    return str(add_integration(client, world.a.admin, "warehouse", "postgres", {"url": pg_url()})["id"])


def test_admin_edits_the_connection_tested_first(
    client: TestClient, world: World, sessions: Sessions, settings: Settings, warehouse_pg: str
) -> None:
    token = sign_in(client, world.a.admin)
    path = f"/admin/integrations/{warehouse_pg}"
    page = client.get(path).text
    assert _url_field(page) == MASKED and SECRET_PASSWORD not in page

    elsewhere = MASKED.replace(f"@{PG_HOST}:", "@localhost:")  # the stored password stays on its server
    moved = client.post(f"{path}/connection", data={"url": elsewhere, "csrf_token": token})
    assert moved.status_code == 400 and "Type the password again" in moved.text
    assert _stored_url(sessions, world, settings, warehouse_pg) == pg_url()

    bad = pg_url(database="no_such_database_here").replace(SECRET_PASSWORD, "***")
    refused = client.post(f"{path}/connection", data={"url": bad, "csrf_token": token})
    assert refused.status_code == 400
    assert "Could not connect" in refused.text and 'id="connection-error"' in refused.text
    assert _url_field(refused.text) == bad and SECRET_PASSWORD not in refused.text
    assert _stored_url(sessions, world, settings, warehouse_pg) == pg_url()

    good = MASKED + "?connect_timeout=5"
    saved = client.post(f"{path}/connection", data={"url": good, "csrf_token": token}, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].endswith("?saved=1#connection")
    assert _stored_url(sessions, world, settings, warehouse_pg) == pg_url() + "?connect_timeout=5"
    page = client.get(path).text
    assert _url_field(page) == good and SECRET_PASSWORD not in page
    with transaction(sessions, world.a.id) as session:
        [change] = [e for e in audit.recent(session) if e.action == "integration.update"]
    assert change.actor_user_id == world.a.admin.id and change.after["config"]["url"] == good
    assert SECRET_PASSWORD not in str(change.before) + str(change.after)


@pytest.mark.parametrize(
    "typed,shown",
    [
        (pg_url(port=1).replace(SECRET_PASSWORD, "N3w-Pa55word"), pg_url(port=1).replace(f":{SECRET_PASSWORD}", "")),
        (f"postgresql://postgres@{PG_HOST}:1/test?password=N3w-Pa55word", f"postgresql://postgres@{PG_HOST}:1/test"),
        ("postgresql://postgres:N3w-Pa55word@host:port/test", "postgresql://postgres:***@host:port/test"),
    ],
)
def test_a_refused_form_never_echoes_a_typed_password(
    client: TestClient, world: World, warehouse_pg: str, typed: str, shown: str
) -> None:
    token = sign_in(client, world.a.admin)
    refused = client.post(f"/admin/integrations/{warehouse_pg}/connection", data={"url": typed, "csrf_token": token})
    assert refused.status_code == 400
    assert "N3w-Pa55word" not in refused.text and SECRET_PASSWORD not in refused.text
    assert _url_field(refused.text) == shown


def test_an_edit_to_the_catalog_store_is_refused(
    client: TestClient, world: World, sessions: Sessions, settings: Settings, tmp_path: Path
) -> None:
    store = make_url(settings.database_url)
    if store.get_backend_name() == "sqlite":
        url = f"sqlite:///{build_shop(tmp_path / 'shop.db')}"
        integration_id = add_integration(client, world.a.admin, "shop", "sqlite", {"url": url})["id"]
        target = f"sqlite:///{store.database}"
    else:
        url = pg_url()
        integration_id = add_integration(client, world.a.admin, "warehouse", "postgres", {"url": url})["id"]
        target = store.set(drivername="postgresql").render_as_string(hide_password=False)
    token = sign_in(client, world.a.admin)
    refused = client.post(f"/admin/integrations/{integration_id}/connection", data={"url": target, "csrf_token": token})
    assert refused.status_code == 400 and "catalog store" in refused.text
    assert _stored_url(sessions, world, settings, integration_id) == url


@pytest.mark.parametrize("who", ["editor", "viewer", "other admin", "no csrf"])
def test_only_this_workspaces_admins_edit_a_connection(
    client: TestClient, world: World, sessions: Sessions, settings: Settings, warehouse_pg: str, who: str
) -> None:
    person = {"editor": world.a.editor, "viewer": world.a.viewer, "other admin": world.b.admin}.get(who, world.a.admin)
    token = sign_in(client, person, "beta" if who == "other admin" else "alpha")
    data = {"url": MASKED.replace(f"@{PG_HOST}:", "@localhost:")}
    response = client.post(
        f"/admin/integrations/{warehouse_pg}/connection",
        data=data if who == "no csrf" else {**data, "csrf_token": token},
    )
    assert response.status_code == (404 if who == "other admin" else 403)
    assert SECRET_PASSWORD not in response.text
    assert _stored_url(sessions, world, settings, warehouse_pg) == pg_url()


def test_a_dbt_project_is_re_pointed_from_its_page(
    client: TestClient, world: World, sessions: Sessions, settings: Settings
) -> None:
    jaffle = Path(__file__).resolve().parents[2] / "fixtures" / "dbt" / "jaffle-shop"
    config = {"manifest_path": str(jaffle / "manifest.json")}
    integration_id = add_integration(client, world.a.admin, "jaffle", "dbt", config)["id"]
    token = sign_in(client, world.a.admin)
    path = f"/admin/integrations/{integration_id}"
    assert 'name="url"' not in client.get(path).text
    typed = {"manifest_path": str(jaffle / "missing.json"), "catalog_path": str(jaffle / "catalog.json")}
    refused = client.post(f"{path}/connection", data={**typed, "csrf_token": token})
    assert refused.status_code == 400 and "does not exist" in refused.text
    assert f'value="{typed["manifest_path"]}"' in refused.text and f'value="{typed["catalog_path"]}"' in refused.text
    fixed = {**typed, "manifest_path": config["manifest_path"]}
    saved = client.post(f"{path}/connection", data={**fixed, "csrf_token": token}, follow_redirects=False)
    assert saved.status_code == 303
    with transaction(sessions, world.a.id) as session:
        integration = session.get(Integration, integration_id)
        assert integration is not None and config_of(settings.secret_key, integration) == fixed


def test_the_list_shows_the_last_failed_sync_escaped_in_one_query(
    app: FastAPI, client: TestClient, world: World, sessions: Sessions, tmp_path: Path
) -> None:
    error = "Could not read <script>alert(1)</script> the source: " + "very long reason " * 30
    ids = []
    for name in ("one", "two", "three"):
        url = f"sqlite:///{build_shop(tmp_path / f'{name}.db')}"
        ids.append(add_integration(client, world.a.admin, name, "sqlite", {"url": url})["id"])
    with transaction(sessions, world.a.id) as session:
        session.add(SyncRun(integration_id=ids[0], status="failed", error=error))
        session.add(SyncRun(integration_id=ids[1], status="succeeded"))
    sign_in(client, world.a.admin)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(app.state.engine, "before_cursor_execute", count)
    try:
        page = client.get("/admin/integrations").text
    finally:
        event.remove(app.state.engine, "before_cursor_execute", count)
    assert len([s for s in statements if "FROM sync_run" in s]) == 1
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count('class="sync-error') == 1
    card = re.search(r'<p class="sync-error small" title="([^"]*)">(.*?) <a ', page, re.S)
    assert card and html.unescape(card.group(1)) == error  # the full reason on hover, its start on the card
    assert html.unescape(card.group(2)).endswith("...") and len(html.unescape(card.group(2))) < len(error)

"""Editing an integration's connection: *** keeps the stored password, the new config is checked and tested before
it is saved, it can never point at the catalog store, and the change is audited without the password."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from datadesk.catalog.integrations import config_of
from datadesk.catalog.models import Integration
from datadesk.db import StoreSession, transaction
from datadesk.identity import audit
from datadesk.identity.models import AuditEvent
from datadesk.settings import Settings
from tests.catalog.helpers import add_integration
from tests.catalog.sources import build_shop
from tests.catalog.test_integrations import SECRET_PASSWORD, pg_url
from tests.dbs import PG_HOST, PG_PORT
from tests.world import World

Sessions = sessionmaker[StoreSession]
NEW_PASSWORD = "An0ther-Pa55word"


def _patch(client: TestClient, world: World, integration_id: str, config: dict[str, str]) -> Any:
    return client.patch(
        f"/api/v1/integrations/{integration_id}", json={"config": config}, headers=world.a.admin.headers
    )


def _stored(sessions: Sessions, world: World, settings: Settings, integration_id: str) -> dict[str, str]:
    with transaction(sessions, world.a.id) as session:
        integration = session.get(Integration, integration_id)
        assert integration is not None
        return config_of(settings.secret_key, integration)


def _updates(sessions: Sessions, world: World) -> list[AuditEvent]:
    with transaction(sessions, world.a.id) as session:
        return [e for e in audit.recent(session) if e.action == "integration.update"]


def test_a_masked_password_keeps_the_stored_one_on_the_same_server(
    client: TestClient, world: World, sessions: Sessions, settings: Settings
) -> None:
    created = add_integration(client, world.a.admin, "warehouse", "postgres", {"url": pg_url()})
    moved = created["config"]["url"] + "?connect_timeout=5"
    assert "***" in moved and SECRET_PASSWORD not in moved
    patched = _patch(client, world, created["id"], {"url": moved})
    assert patched.status_code == 200, patched.text
    assert patched.json()["config"]["url"] == moved and SECRET_PASSWORD not in patched.text
    assert _stored(sessions, world, settings, created["id"])["url"] == pg_url() + "?connect_timeout=5"
    [event] = _updates(sessions, world)
    assert event.after["config"]["url"] == moved and event.before["config"]["url"] == created["config"]["url"]
    assert SECRET_PASSWORD not in str(event.before) + str(event.after)


def test_a_masked_password_is_never_sent_to_another_server(
    client: TestClient, world: World, sessions: Sessions, settings: Settings
) -> None:
    """An admin re-pointing the URL at a server they run must type the password: the stored one stays home."""
    created = add_integration(client, world.a.admin, "warehouse", "postgres", {"url": pg_url()})
    masked = created["config"]["url"]
    assert masked == f"postgresql://postgres:***@{PG_HOST}:{PG_PORT}/test"
    for url in (
        masked.replace(f"@{PG_HOST}:", "@db.elsewhere.example:"),
        masked.replace(f":{PG_PORT}/", f":{PG_PORT + 1}/"),
        masked.replace("postgres:***@", "someone_else:***@"),
        masked.replace("postgresql://", "mysql+pymysql://"),
    ):
        refused = _patch(client, world, created["id"], {"url": url})
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_config", refused.text
        assert "password again" in refused.json()["error"]["message"]
    assert _stored(sessions, world, settings, created["id"])["url"] == pg_url() and _updates(sessions, world) == []
    typed = pg_url().replace(f"@{PG_HOST}:", "@localhost:")
    moved = _patch(client, world, created["id"], {"url": typed})
    assert moved.status_code == 200, moved.text
    assert _stored(sessions, world, settings, created["id"])["url"] == typed


def test_a_new_password_replaces_the_stored_one_and_is_never_sent_back(
    client: TestClient, world: World, sessions: Sessions, settings: Settings
) -> None:
    created = add_integration(client, world.a.admin, "warehouse", "postgres", {"url": pg_url()})
    new = pg_url().replace(SECRET_PASSWORD, NEW_PASSWORD)
    patched = _patch(client, world, created["id"], {"url": new})
    assert patched.status_code == 200, patched.text
    assert NEW_PASSWORD not in patched.text and SECRET_PASSWORD not in patched.text
    assert _stored(sessions, world, settings, created["id"])["url"] == new
    listed = client.get("/api/v1/integrations", headers=world.a.admin.headers)
    assert NEW_PASSWORD not in listed.text and NEW_PASSWORD not in str(_updates(sessions, world)[0].after)


def test_stars_on_a_url_that_had_no_password_store_none(
    client: TestClient, world: World, sessions: Sessions, settings: Settings
) -> None:
    bare = pg_url().replace(f":{SECRET_PASSWORD}@", "@")
    created = add_integration(client, world.a.admin, "warehouse", "postgres", {"url": bare})
    patched = _patch(client, world, created["id"], {"url": bare.replace("postgres@", "postgres:***@")})
    assert patched.status_code == 200, patched.text
    assert _stored(sessions, world, settings, created["id"])["url"] == bare  # not the password "***"


def test_a_failed_connection_test_saves_nothing(
    client: TestClient, world: World, sessions: Sessions, settings: Settings
) -> None:
    created = add_integration(client, world.a.admin, "warehouse", "postgres", {"url": pg_url()})
    missing = pg_url(database="no_such_database_here").replace(SECRET_PASSWORD, "***")
    refused = _patch(client, world, created["id"], {"url": missing})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "connection_failed"
    assert SECRET_PASSWORD not in refused.text
    assert _stored(sessions, world, settings, created["id"])["url"] == pg_url()
    assert _updates(sessions, world) == []


def test_an_edit_can_never_point_at_the_catalog_store(
    client: TestClient, world: World, sessions: Sessions, settings: Settings, tmp_path: Path
) -> None:
    store = make_url(settings.database_url)
    if store.get_backend_name() == "sqlite":
        assert store.database and Path(store.database).parent == tmp_path  # inside a sources folder: only the rule
        url = f"sqlite:///{build_shop(tmp_path / 'shop.db')}"
        created = add_integration(client, world.a.admin, "shop", "sqlite", {"url": url})
        targets = [f"sqlite:///{store.database}", f"sqlite:///{store.database}-wal", f"sqlite:///{settings.key_file}"]
    else:
        url = pg_url()
        created = add_integration(client, world.a.admin, "warehouse", "postgres", {"url": url})
        targets = [store.set(drivername="postgresql").render_as_string(hide_password=False)]
    for target in targets:
        refused = _patch(client, world, created["id"], {"url": target})
        assert refused.status_code == 400, target
        assert refused.json()["error"]["code"] == "source_not_allowed", target
    assert _stored(sessions, world, settings, created["id"])["url"] == url
    assert _updates(sessions, world) == []


def test_a_dbt_project_is_re_pointed_and_loses_an_emptied_path(
    client: TestClient, world: World, sessions: Sessions, settings: Settings
) -> None:
    jaffle = Path(__file__).resolve().parents[1] / "fixtures" / "dbt" / "jaffle-shop"
    config = {"manifest_path": str(jaffle / "manifest.json"), "catalog_path": str(jaffle / "catalog.json")}
    created = add_integration(client, world.a.admin, "jaffle", "dbt", config)
    missing = _patch(client, world, created["id"], {"manifest_path": str(jaffle / "nope.json")})
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "connection_failed"
    assert _stored(sessions, world, settings, created["id"]) == config
    moved = _patch(client, world, created["id"], {"manifest_path": config["manifest_path"]})
    assert moved.status_code == 200, moved.text
    assert _stored(sessions, world, settings, created["id"]) == {"manifest_path": config["manifest_path"]}

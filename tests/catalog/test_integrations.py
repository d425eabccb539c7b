"""Integrations: admin-only, encrypted credentials shown masked, connection tested before saving."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from datadesk.catalog.models import Integration
from datadesk.db import StoreSession, transaction
from datadesk.identity import audit
from datadesk.identity.models import AuditEvent
from tests.catalog.helpers import add_integration, sync
from tests.catalog.sources import build_shop
from tests.dbs import PG_HOST, PG_PORT
from tests.sql.conftest import set_run_sql
from tests.world import Person, World

SECRET_PASSWORD = "s3cr3t-Pa55word"
JAFFLE = Path(__file__).resolve().parents[1] / "fixtures" / "dbt" / "jaffle-shop"
Sessions = sessionmaker[StoreSession]


def pg_url(database: str = "test", port: int = PG_PORT) -> str:
    # this machine trusts local connections, so the password is not checked but must never leak
    return f"postgresql://postgres:{SECRET_PASSWORD}@{PG_HOST}:{port}/{database}"


def test_password_is_stored_encrypted_and_shown_masked(client: TestClient, world: World, sessions) -> None:  # type: ignore[no-untyped-def]
    created = add_integration(client, world.a.admin, "warehouse", "postgres", {"url": pg_url()})
    assert SECRET_PASSWORD not in str(created) and "***" in created["config"]["url"]
    for path in ("/api/v1/integrations", f"/api/v1/integrations/{created['id']}"):
        response = client.get(path, headers=world.a.viewer.headers)
        assert response.status_code == 200 and SECRET_PASSWORD not in response.text
    with transaction(sessions, world.a.id) as session:
        stored = session.get(Integration, created["id"])
        assert SECRET_PASSWORD not in stored.config_encrypted
    # sending the masked URL back keeps the stored password; renaming works
    patched = client.patch(
        f"/api/v1/integrations/{created['id']}",
        json={"name": "dwh", "config": created["config"]},
        headers=world.a.admin.headers,
    )
    assert patched.status_code == 200 and patched.json()["name"] == "dwh"
    from datadesk.catalog.integrations import config_of

    with transaction(sessions, world.a.id) as session:
        assert (
            SECRET_PASSWORD
            in config_of(
                client.app.state.settings.secret_key,  # type: ignore[attr-defined]
                session.get(Integration, created["id"]),
            )["url"]
        )


@pytest.mark.parametrize(
    "type,config,fragment",
    [
        ("postgres", {"url": pg_url(port=1)}, "refused"),
        ("postgres", {"url": pg_url(database="no_such_database_here")}, "does not exist"),
        # {tmp}: the test's sources folder, so the missing file is refused by the connector, not by where it is
        ("sqlite", {"url": "sqlite:///{tmp}/nonexistent/dir/shop.db"}, "does not exist"),
        ("duckdb", {"url": "duckdb:///{tmp}/nonexistent/warehouse.duckdb"}, "does not exist"),
        ("dbt", {"manifest_path": "{tmp}/nonexistent/manifest.json"}, "does not exist"),
        ("mysql", {"url": f"mysql+pymysql://root:{SECRET_PASSWORD}@127.0.0.1:1/test"}, "connection refused"),
    ],
)
def test_a_broken_integration_is_refused_with_a_clear_reason_and_not_saved(
    client: TestClient,
    world: World,
    sessions,
    tmp_path: Path,
    type: str,
    config: dict[str, str],
    fragment: str,  # type: ignore[no-untyped-def]
) -> None:
    config = {key: value.replace("{tmp}", str(tmp_path)) for key, value in config.items()}
    response = client.post(
        "/api/v1/integrations", json={"name": "broken", "type": type, "config": config}, headers=world.a.admin.headers
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "connection_failed" and fragment.lower() in error["message"].lower()
    assert SECRET_PASSWORD not in response.text
    with transaction(sessions, world.a.id) as session:
        assert session.scalar(select(func.count()).select_from(Integration)) == 0


@pytest.mark.parametrize(
    "body,code",
    [
        ({"name": "x", "type": "oracle", "config": {"url": "x"}}, 422),
        ({"name": "x", "type": "postgres", "config": {}}, 400),
        ({"name": "x", "type": "postgres", "config": {"url": "x", "extra": "y"}}, 400),
        ({"name": "x", "type": "dbt", "config": {"url": "x"}}, 400),
        ({"name": "", "type": "sqlite", "config": {"url": "x"}}, 422),
    ],
)
def test_bad_integration_bodies(client: TestClient, world: World, body: dict[str, object], code: int) -> None:
    assert client.post("/api/v1/integrations", json=body, headers=world.a.admin.headers).status_code == code


def test_admin_only_and_sealed(client: TestClient, world: World, tmp_path: Path) -> None:
    url = f"sqlite:///{build_shop(tmp_path / 'shop.db')}"
    for who in ("editor", "viewer"):
        response = client.post(
            "/api/v1/integrations",
            json={"name": "s", "type": "sqlite", "config": {"url": url}},
            headers=world.a.people[who].headers,
        )
        assert response.status_code == 403
    created = add_integration(client, world.a.admin, "s", "sqlite", {"url": url})
    duplicate = client.post(
        "/api/v1/integrations",
        json={"name": "s", "type": "sqlite", "config": {"url": url}},
        headers=world.a.admin.headers,
    )
    assert duplicate.status_code == 409
    for method in ("GET", "PATCH", "DELETE"):
        response = client.request(
            method,
            f"/api/v1/integrations/{created['id']}",
            json={} if method == "PATCH" else None,
            headers=world.b.admin.headers,
        )
        assert response.status_code == 404
    assert (
        client.patch(
            f"/api/v1/integrations/{created['id']}", json={"name": "t"}, headers=world.a.editor.headers
        ).status_code
        == 403
    )
    assert client.delete(f"/api/v1/integrations/{created['id']}", headers=world.a.admin.headers).status_code == 204
    assert client.get(f"/api/v1/integrations/{created['id']}", headers=world.a.admin.headers).status_code == 404


def test_deleting_an_integration_removes_its_resources(
    client: TestClient, world: World, shops: dict[str, object]
) -> None:
    integration = shops["a"]
    client.delete(f"/api/v1/integrations/{integration['id']}", headers=world.a.admin.headers)  # type: ignore[index]
    listed = client.get(
        "/api/v1/resources",
        params={"integration_id": integration["id"]},  # type: ignore[index]
        headers=world.a.admin.headers,
    ).json()
    assert listed["resources"] == []


def _create(client: TestClient, person: Person, body: dict[str, Any]) -> Response:
    return client.post("/api/v1/integrations", json=body, headers=person.headers)


def _grants(client: TestClient, world: World, integration_id: str) -> dict[str, list[str]]:
    response = client.get(f"/api/v1/integrations/{integration_id}/permissions", headers=world.a.admin.headers)
    assert response.status_code == 200, response.text
    grants: dict[str, list[str]] = response.json()
    return grants


def _permission_events(sessions: Sessions, world: World) -> list[AuditEvent]:
    with transaction(sessions, world.a.id) as session:
        return [e for e in audit.recent(session) if e.action == "integration.permissions"]


def test_grant_admins_gives_admins_query_access_audited_and_no_one_else(
    client: TestClient, world: World, sessions: Sessions, tmp_path: Path
) -> None:
    url = f"sqlite:///{build_shop(tmp_path / 'shop.db')}"
    created = _create(
        client, world.a.admin, {"name": "shop", "type": "sqlite", "config": {"url": url}, "grant_admins": True}
    )
    assert created.status_code == 201, created.text
    integration_id = created.json()["id"]
    assert _grants(client, world, integration_id) == {"query_access": ["role:admin"], "sensitive_access": []}
    [event] = _permission_events(sessions, world)
    assert event.target == integration_id and event.actor_user_id == world.a.admin.id
    assert event.before == {"query_access": [], "sensitive_access": []}
    assert event.after == {"query_access": ["role:admin"], "sensitive_access": []}
    assert sync(client, world.a.admin, integration_id)["status"] == "succeeded"
    set_run_sql(client, world.a.admin, True)
    body = {"integration_id": integration_id, "sql": "SELECT count(*) FROM customers"}
    ran = client.post("/api/v1/sql", json=body, headers=world.a.admin.headers)
    assert ran.status_code == 200, ran.text
    for who in ("editor", "viewer"):
        refused = client.post("/api/v1/sql", json=body, headers=world.a.people[who].headers)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "no_query_access"


@pytest.mark.parametrize("extra", [{}, {"grant_admins": False}])
def test_without_grant_admins_a_new_integration_has_no_grant(
    client: TestClient, world: World, sessions: Sessions, tmp_path: Path, extra: dict[str, bool]
) -> None:
    url = f"sqlite:///{build_shop(tmp_path / 'shop.db')}"
    created = _create(client, world.a.admin, {"name": "shop", "type": "sqlite", "config": {"url": url}, **extra})
    assert created.status_code == 201, created.text
    integration_id = created.json()["id"]
    assert _grants(client, world, integration_id) == {"query_access": [], "sensitive_access": []}
    assert _permission_events(sessions, world) == []
    set_run_sql(client, world.a.admin, True)
    body = {"integration_id": integration_id, "sql": "SELECT 1"}
    refused = client.post("/api/v1/sql", json=body, headers=world.a.admin.headers)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "no_query_access"


def test_grant_admins_on_dbt_creates_it_without_a_grant(client: TestClient, world: World, sessions: Sessions) -> None:
    config = {"manifest_path": str(JAFFLE / "manifest.json")}
    created = _create(client, world.a.admin, {"name": "jaffle", "type": "dbt", "config": config, "grant_admins": True})
    assert created.status_code == 201, created.text
    assert _grants(client, world, created.json()["id"]) == {"query_access": [], "sensitive_access": []}
    assert _permission_events(sessions, world) == []


@pytest.mark.parametrize("who", ["editor", "viewer"])
def test_only_admins_create_even_with_grant_admins(
    client: TestClient, world: World, sessions: Sessions, tmp_path: Path, who: str
) -> None:
    url = f"sqlite:///{build_shop(tmp_path / 'shop.db')}"
    body = {"name": "shop", "type": "sqlite", "config": {"url": url}, "grant_admins": True}
    assert _create(client, world.a.people[who], body).status_code == 403
    with transaction(sessions, world.a.id) as session:
        assert session.scalar(select(func.count()).select_from(Integration)) == 0
    assert _permission_events(sessions, world) == []


@pytest.mark.parametrize("value", ["maybe", None, [], {}, 2, "role:admin"])
def test_a_bad_grant_admins_is_422_and_nothing_is_saved(
    client: TestClient, world: World, sessions: Sessions, tmp_path: Path, value: object
) -> None:
    url = f"sqlite:///{build_shop(tmp_path / 'shop.db')}"
    response = _create(
        client, world.a.admin, {"name": "shop", "type": "sqlite", "config": {"url": url}, "grant_admins": value}
    )
    assert response.status_code == 422, response.text
    assert "error" in response.json()
    with transaction(sessions, world.a.id) as session:
        assert session.scalar(select(func.count()).select_from(Integration)) == 0

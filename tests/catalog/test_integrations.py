"""Integrations: admin-only, encrypted credentials shown masked, connection tested before saving."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from datadesk.catalog.models import Integration
from datadesk.db import transaction
from tests.catalog.helpers import add_integration
from tests.catalog.sources import build_shop
from tests.dbs import PG_HOST, PG_PORT
from tests.world import World

SECRET_PASSWORD = "s3cr3t-Pa55word"


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

"""Login and tokens."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from datadesk.identity.models import ApiToken
from tests.world import PASSWORD, World


def login(client: TestClient, email: str, password: str, workspace: str):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/auth/login", json={"email": email, "password": password, "workspace": workspace})


def test_login_returns_token_user_workspace_and_role(client: TestClient, world: World) -> None:
    response = login(client, world.a.editor.email, PASSWORD, "alpha")
    assert response.status_code == 200
    body = response.json()
    assert body["user"] == {"id": world.a.editor.id, "email": world.a.editor.email}
    assert body["workspace"] == {"id": world.a.id, "slug": "alpha", "name": "ALPHA"}
    assert body["role"] == "editor"
    me = client.get("/api/v1/members", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200


def test_login_is_case_insensitive_on_email_and_slug(client: TestClient, world: World) -> None:
    assert login(client, world.a.admin.email.upper(), PASSWORD, "ALPHA").status_code == 200


@pytest.mark.parametrize(
    "email,password,workspace",
    [
        ("nobody@alpha.example.com", PASSWORD, "alpha"),  # unknown email
        ("admin@alpha.example.com", "wrong password", "alpha"),  # wrong password
        ("admin@alpha.example.com", PASSWORD, "nowhere"),  # unknown workspace
        ("admin@alpha.example.com", PASSWORD, "beta"),  # workspace the person is not in
        ("admin@alpha.example.com", "", "alpha"),
    ],
)
def test_every_wrong_part_gives_the_same_401(
    client: TestClient, world: World, email: str, password: str, workspace: str
) -> None:
    response = login(client, email, password, workspace)
    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "invalid_credentials", "message": "Wrong email, password or workspace."}
    }


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer ", "bearer ddt_xyz"])
def test_bad_or_missing_token_is_401(client: TestClient, world: World, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = client.get("/api/v1/members", headers=headers)
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"code", "message"}


def test_token_is_shown_once_stored_hashed_and_revocable(client: TestClient, world: World, db) -> None:  # type: ignore[no-untyped-def]
    created = client.post("/api/v1/auth/tokens", json={"name": "laptop"}, headers=world.a.viewer.headers)
    assert created.status_code == 201
    token_id, token = created.json()["id"], created.json()["token"]
    stored = db.scalar(select(ApiToken).where(ApiToken.id == token_id).execution_options(all_workspaces=True))
    assert token not in (stored.token_hash, stored.name) and len(stored.token_hash) == 64
    listed = client.get("/api/v1/auth/tokens", headers=world.a.viewer.headers).json()["tokens"]
    assert token_id in [t["id"] for t in listed] and token not in str(listed)
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/teams", headers=bearer).status_code == 200
    assert client.delete(f"/api/v1/auth/tokens/{token_id}", headers=world.a.viewer.headers).status_code == 204
    assert client.get("/api/v1/teams", headers=bearer).status_code == 401
    assert client.delete(f"/api/v1/auth/tokens/{token_id}", headers=world.a.viewer.headers).status_code == 404


def test_a_token_reaches_only_its_own_workspace(client: TestClient, world: World) -> None:
    members = client.get("/api/v1/members", headers=world.a.viewer.headers).json()["members"]
    emails = {m["email"] for m in members}
    assert emails == {p.email for p in world.a.people.values()}


def test_someone_elses_token_cannot_be_revoked_by_a_non_admin(client: TestClient, world: World) -> None:
    created = client.post("/api/v1/auth/tokens", json={"name": "x"}, headers=world.a.admin.headers).json()
    assert client.delete(f"/api/v1/auth/tokens/{created['id']}", headers=world.a.editor.headers).status_code == 404
    assert client.delete(f"/api/v1/auth/tokens/{created['id']}", headers=world.b.admin.headers).status_code == 404
    assert client.get("/api/v1/teams", headers={"Authorization": f"Bearer {created['token']}"}).status_code == 200


def test_removed_member_loses_access(client: TestClient, world: World) -> None:
    response = client.delete(f"/api/v1/members/{world.a.viewer.id}", headers=world.a.admin.headers)
    assert response.status_code == 204
    assert client.get("/api/v1/teams", headers=world.a.viewer.headers).status_code == 401
    assert login(client, world.a.viewer.email, PASSWORD, "alpha").status_code == 401

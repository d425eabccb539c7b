"""A person's own workspaces and switching between them without the password, and what an attacker gets from it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from datadesk.db import StoreSession, transaction
from datadesk.errors import Unauthorized
from datadesk.identity import service as identity
from datadesk.identity import switching
from datadesk.identity.models import Role
from tests.world import PASSWORD, Person, World, add_to

NOT_FOUND = {"error": {"code": "not_found", "message": "No such workspace."}}
LOGIN_TOKEN_REQUIRED = "login_token_required"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def log_in(client: TestClient, person: Person, workspace: str, password: str = PASSWORD) -> str:
    response = client.post(
        "/api/v1/auth/login", json={"email": person.email, "password": password, "workspace": workspace}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def switch(client: TestClient, token: str, workspace: str) -> Any:
    return client.post("/api/v1/auth/switch", json={"workspace": workspace}, headers=bearer(token))


def workspaces(client: TestClient, token: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/auth/workspaces", headers=bearer(token))
    assert response.status_code == 200, response.text
    return list(response.json()["workspaces"])


@pytest.fixture
def in_both(sessions: sessionmaker[StoreSession], world: World) -> Person:
    """A's editor, also a viewer in B, with the same password in both."""
    add_to(sessions, world.b.id, world.a.editor.email, Role.viewer)
    return world.a.editor


# --- GET /auth/workspaces ---------------------------------------------------------------------


def test_lists_the_callers_own_workspaces_by_name(
    client: TestClient, sessions: sessionmaker[StoreSession], world: World, in_both: Person
) -> None:
    with transaction(sessions) as session:
        third = identity.create_workspace(session=session, slug="gamma", name="acme labs").id
    add_to(sessions, third, in_both.email, Role.admin)
    token = log_in(client, in_both, "beta")
    assert workspaces(client, token) == [
        {"id": third, "slug": "gamma", "name": "acme labs", "role": "admin", "current": False},
        {"id": world.a.id, "slug": "alpha", "name": "ALPHA", "role": "editor", "current": False},
        {"id": world.b.id, "slug": "beta", "name": "BETA", "role": "viewer", "current": True},
    ]


def test_someone_in_one_workspace_sees_only_it(client: TestClient, world: World, in_both: Person) -> None:
    for person in (world.a.admin, world.a.viewer):
        token = log_in(client, person, "alpha")
        assert workspaces(client, token) == [
            {"id": world.a.id, "slug": "alpha", "name": "ALPHA", "role": person.role, "current": True}
        ]
    token = log_in(client, world.b.admin, "beta")  # B's admin learns nothing of A's editor's other workspace
    assert [w["slug"] for w in workspaces(client, token)] == ["beta"]


def test_a_personal_api_token_is_bound_to_its_workspace(client: TestClient, world: World, in_both: Person) -> None:
    for response in (
        client.get("/api/v1/auth/workspaces", headers=in_both.headers),
        client.post("/api/v1/auth/switch", json={"workspace": "beta"}, headers=in_both.headers),
        client.post("/api/v1/auth/switch", json={"workspace": "nowhere"}, headers=in_both.headers),
    ):
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == LOGIN_TOKEN_REQUIRED
    assert client.get("/api/v1/members", headers=in_both.headers).status_code == 200  # and it still works


def test_a_personal_token_named_login_is_still_a_personal_token(
    client: TestClient, world: World, in_both: Person
) -> None:
    made = client.post("/api/v1/auth/tokens", json={"name": "login"}, headers=in_both.headers)
    assert made.status_code == 201, made.text
    response = client.get("/api/v1/auth/workspaces", headers=bearer(made.json()["token"]))
    assert response.status_code == 403 and response.json()["error"]["code"] == LOGIN_TOKEN_REQUIRED


def test_a_login_opens_only_the_workspaces_where_its_password_is_the_persons(
    client: TestClient, sessions: sessionmaker[StoreSession], world: World
) -> None:
    add_to(sessions, world.b.id, world.a.editor.email, Role.viewer, password="another-password-for-b")
    alpha = log_in(client, world.a.editor, "alpha")
    assert [w["slug"] for w in workspaces(client, alpha)] == ["alpha"]
    assert switch(client, alpha, "beta").json() == NOT_FOUND
    beta = log_in(client, world.a.editor, "beta", password="another-password-for-b")
    assert [w["slug"] for w in workspaces(client, beta)] == ["beta"]
    assert switch(client, beta, "alpha").json() == NOT_FOUND
    # A member of B without a password there cannot log into B at all, whatever their password in A.
    add_to(sessions, world.b.id, world.a.viewer.email, Role.viewer, password=None)
    refused = client.post(
        "/api/v1/auth/login", json={"email": world.a.viewer.email, "password": PASSWORD, "workspace": "beta"}
    )
    assert refused.status_code == 401
    assert [w["slug"] for w in workspaces(client, log_in(client, world.a.viewer, "alpha"))] == ["alpha"]


# --- POST /auth/switch ------------------------------------------------------------------------


def test_switching_trades_the_login_token_for_one_in_the_other_workspace(
    client: TestClient, world: World, in_both: Person
) -> None:
    alpha = log_in(client, in_both, "alpha")
    moved = switch(client, alpha, "BETA ")
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert body["user"] == {"id": in_both.id, "email": in_both.email}
    assert body["workspace"] == {"id": world.b.id, "slug": "beta", "name": "BETA"}
    assert body["role"] == "viewer"
    beta = body["token"]
    members = client.get("/api/v1/members", headers=bearer(beta)).json()["members"]
    assert {m["email"] for m in members} == {*(p.email for p in world.b.people.values()), in_both.email}
    assert [w["slug"] for w in workspaces(client, beta) if w["current"]] == ["beta"]
    # The alpha token is gone, for everything, switching included.
    assert client.get("/api/v1/members", headers=bearer(alpha)).status_code == 401
    again = switch(client, alpha, "beta")
    assert again.status_code == 401 and again.json()["error"]["code"] == "invalid_token"
    # And back: an editor in A again, and the beta token gone.
    back = switch(client, beta, "alpha")
    assert back.status_code == 200 and back.json()["role"] == "editor"
    assert client.get("/api/v1/members", headers=bearer(beta)).status_code == 401
    assert client.get("/api/v1/members", headers=bearer(back.json()["token"])).status_code == 200


def test_a_workspace_you_are_not_in_is_the_same_404_as_none(client: TestClient, world: World) -> None:
    token = log_in(client, world.a.admin, "alpha")
    answers = [switch(client, token, slug) for slug in ("beta", "nowhere", "BETA")]
    assert [a.status_code for a in answers] == [404, 404, 404]
    assert all(a.json() == NOT_FOUND for a in answers)
    assert switch(client, token, "a\u0000b").status_code in (400, 404)  # PostgreSQL text cannot hold U+0000
    assert client.get("/api/v1/members", headers=bearer(token)).status_code == 200  # nothing was revoked


def test_switching_into_a_workspace_you_were_removed_from_is_refused(
    client: TestClient, world: World, in_both: Person
) -> None:
    token = log_in(client, in_both, "alpha")
    assert client.delete(f"/api/v1/members/{in_both.id}", headers=world.b.admin.headers).status_code == 204
    assert [w["slug"] for w in workspaces(client, token)] == ["alpha"]
    assert switch(client, token, "beta").json() == NOT_FOUND


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}])
def test_listing_and_switching_need_a_live_token(client: TestClient, world: World, headers: dict[str, str]) -> None:
    for response in (
        client.get("/api/v1/auth/workspaces", headers=headers),
        client.post("/api/v1/auth/switch", json={"workspace": "alpha"}, headers=headers),
    ):
        assert response.status_code == 401
        assert response.json()["error"]["code"] in ("missing_token", "invalid_token")


def test_switching_to_the_current_workspace_renews_the_token(client: TestClient, world: World) -> None:
    token = log_in(client, world.a.viewer, "alpha")
    renewed = switch(client, token, "alpha")
    assert renewed.status_code == 200 and renewed.json()["workspace"]["slug"] == "alpha"
    assert client.get("/api/v1/members", headers=bearer(token)).status_code == 401


def test_the_service_refuses_a_second_switch_on_one_token(
    sessions: sessionmaker[StoreSession], world: World, in_both: Person
) -> None:
    with transaction(sessions) as session:
        token, _ = identity.login(session=session, email=in_both.email, password=PASSWORD, workspace_slug="alpha")
    with transaction(sessions) as session:
        _, caller, workspace = switching.switch_workspace(session=session, token=token, workspace_slug="beta")
        assert (caller.workspace_id, caller.role, workspace.slug) == (world.b.id, "viewer", "beta")
    with pytest.raises(Unauthorized), transaction(sessions) as session:
        switching.switch_workspace(session=session, token=token, workspace_slug="beta")


# --- an admin of A and someone in B -----------------------------------------------------------


def test_an_admin_adding_someone_from_another_workspace_learns_nothing_and_cannot_log_in_as_them(
    client: TestClient, world: World
) -> None:
    planted = "attacker-chosen-pw"
    headers = world.a.admin.headers
    fresh = client.post(
        "/api/v1/members", json={"email": "new@x.example.com", "role": "viewer", "password": planted}, headers=headers
    )
    taken = client.post(
        "/api/v1/members", json={"email": world.b.viewer.email, "role": "viewer", "password": planted}, headers=headers
    )
    assert fresh.status_code == taken.status_code == 201
    assert fresh.json().keys() == taken.json().keys()
    assert fresh.json()["team_ids"] == taken.json()["team_ids"] == [world.a.everyone_id]
    assert taken.json()["role"] == "viewer" and taken.json()["email"] == world.b.viewer.email
    # The planted password is the person's password in A, A's admin's own workspace, and opens nothing else.
    planted_login = log_in(client, Person(world.b.viewer.id, world.b.viewer.email, "viewer", ""), "alpha", planted)
    assert [w["slug"] for w in workspaces(client, planted_login)] == ["alpha"]
    assert switch(client, planted_login, "beta").json() == NOT_FOUND
    attempt = client.post(
        "/api/v1/auth/login", json={"email": world.b.viewer.email, "password": planted, "workspace": "beta"}
    )
    assert attempt.status_code == 401
    # Nor can the admin reach B through their own login: they are not in it.
    admin_token = log_in(client, world.a.admin, "alpha")
    assert [w["slug"] for w in workspaces(client, admin_token)] == ["alpha"]
    assert switch(client, admin_token, "beta").json() == NOT_FOUND
    # The person keeps their own password in B, which does not open A (A's admin chose that one).
    own = log_in(client, world.b.viewer, "beta")
    assert [w["slug"] for w in workspaces(client, own)] == ["beta"]


def test_a_password_an_admin_set_does_not_open_a_workspace_joined_later(
    client: TestClient, sessions: sessionmaker[StoreSession], world: World
) -> None:
    planted = "known-to-alpha-admin"
    created = client.post(
        "/api/v1/members",
        json={"email": "later@example.com", "role": "viewer", "password": planted},
        headers=world.a.admin.headers,
    )
    assert created.status_code == 201
    add_to(sessions, world.b.id, "later@example.com", Role.viewer, password=None)  # B adds them afterwards
    attempt = client.post(
        "/api/v1/auth/login", json={"email": "later@example.com", "password": planted, "workspace": "beta"}
    )
    assert attempt.status_code == 401

"""Members and Teams: admin writes, everyone in the workspace reads."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.world import World


def test_add_member_puts_them_in_everyone(client: TestClient, world: World) -> None:
    response = client.post(
        "/api/v1/members",
        json={"email": "New@Alpha.example.com", "role": "editor", "password": "a-long-password"},
        headers=world.a.admin.headers,
    )
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "new@alpha.example.com" and body["role"] == "editor"
    teams = client.get("/api/v1/teams", headers=world.a.viewer.headers).json()["teams"]
    everyone = next(t for t in teams if t["name"] == "Everyone")
    assert body["id"] in everyone["member_ids"]
    login = client.post(
        "/api/v1/auth/login",
        json={"email": "new@alpha.example.com", "password": "a-long-password", "workspace": "alpha"},
    )
    assert login.status_code == 200 and login.json()["role"] == "editor"


def test_adding_an_existing_member_is_a_conflict(client: TestClient, world: World) -> None:
    response = client.post(
        "/api/v1/members", json={"email": world.a.viewer.email, "role": "admin"}, headers=world.a.admin.headers
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "member_exists"


def test_existing_account_joins_another_workspace_keeping_its_password(client: TestClient, world: World) -> None:
    response = client.post(
        "/api/v1/members",
        json={"email": world.a.viewer.email, "role": "viewer", "password": "attacker-chosen-pw"},
        headers=world.b.admin.headers,
    )
    assert response.status_code == 201
    hijack = client.post(
        "/api/v1/auth/login",
        json={"email": world.a.viewer.email, "password": "attacker-chosen-pw", "workspace": "alpha"},
    )
    assert hijack.status_code == 401


def test_role_change_and_last_admin_rule(client: TestClient, world: World) -> None:
    url = f"/api/v1/members/{world.a.editor.id}"
    response = client.patch(url, json={"role": "viewer"}, headers=world.a.admin.headers)
    assert response.status_code == 200 and response.json()["role"] == "viewer"
    # the only admin cannot demote or remove themselves
    own = f"/api/v1/members/{world.a.admin.id}"
    demote = client.patch(own, json={"role": "editor"}, headers=world.a.admin.headers)
    assert demote.status_code == 409 and demote.json()["error"]["code"] == "last_admin"
    assert client.delete(own, headers=world.a.admin.headers).status_code == 409
    # with a second admin, the first may step down
    client.patch(url, json={"role": "admin"}, headers=world.a.admin.headers)
    assert client.patch(own, json={"role": "editor"}, headers=world.a.admin.headers).status_code == 200


def test_teams_lifecycle(client: TestClient, world: World) -> None:
    created = client.post("/api/v1/teams", json={"name": "Engineering"}, headers=world.a.admin.headers)
    assert created.status_code == 201
    team_id = created.json()["id"]
    assert created.json()["name"] == "Engineering"
    dup = client.post("/api/v1/teams", json={"name": "engineering"}, headers=world.a.admin.headers)
    assert dup.status_code == 409
    put = client.put(f"/api/v1/teams/{team_id}/members/{world.a.viewer.id}", headers=world.a.admin.headers)
    assert put.status_code == 204
    again = client.put(f"/api/v1/teams/{team_id}/members/{world.a.viewer.id}", headers=world.a.admin.headers)
    assert again.status_code == 204  # idempotent
    teams = {t["id"]: t for t in client.get("/api/v1/teams", headers=world.a.viewer.headers).json()["teams"]}
    assert teams[team_id]["member_ids"] == [world.a.viewer.id]
    assert (
        client.delete(f"/api/v1/teams/{team_id}/members/{world.a.viewer.id}", headers=world.a.admin.headers).status_code
        == 204
    )
    assert (
        client.delete(f"/api/v1/teams/{team_id}/members/{world.a.viewer.id}", headers=world.a.admin.headers).status_code
        == 404
    )
    assert client.delete(f"/api/v1/teams/{team_id}", headers=world.a.admin.headers).status_code == 204
    assert client.delete(f"/api/v1/teams/{team_id}", headers=world.a.admin.headers).status_code == 404


def test_everyone_team_cannot_be_deleted_but_members_can_leave_it(client: TestClient, world: World) -> None:
    everyone = world.a.everyone_id
    response = client.delete(f"/api/v1/teams/{everyone}", headers=world.a.admin.headers)
    assert response.status_code == 409 and response.json()["error"]["code"] == "everyone_team"
    left = client.delete(f"/api/v1/teams/{everyone}/members/{world.a.viewer.id}", headers=world.a.admin.headers)
    assert left.status_code == 204
    member = client.get(f"/api/v1/members/{world.a.viewer.id}", headers=world.a.viewer.headers).json()
    assert everyone not in member["team_ids"]


def test_member_of_another_workspace_cannot_be_put_in_a_team(client: TestClient, world: World) -> None:
    team = world.a.teams["Finance"]
    response = client.put(f"/api/v1/teams/{team}/members/{world.b.viewer.id}", headers=world.a.admin.headers)
    assert response.status_code == 404


def test_admin_changes_are_audited(client: TestClient, world: World, sessions) -> None:  # type: ignore[no-untyped-def]
    from datadesk.db import transaction
    from datadesk.identity import audit

    client.post("/api/v1/teams", json={"name": "Ops"}, headers=world.a.admin.headers)
    client.patch(f"/api/v1/members/{world.a.viewer.id}", json={"role": "editor"}, headers=world.a.admin.headers)
    with transaction(sessions, world.a.id) as session:
        events = audit.recent(session)
        actions = [(e.action, e.actor_user_id) for e in events]
        role_change = next(e for e in events if e.action == "member.role")
        assert role_change.before == {"role": "viewer"} and role_change.after == {"role": "editor"}
    assert ("team.create", world.a.admin.id) in actions
    with transaction(sessions, world.b.id) as session:
        assert all(e.action != "member.role" for e in audit.recent(session))

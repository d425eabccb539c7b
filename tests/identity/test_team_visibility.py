"""Public and private Teams: who lists, joins, leaves, fills and closes which Team, on both stores.

The matrix is one table: (action, Team state) -> the outcome for (viewer, editor, admin). A private
Team is invisible to a non-member who is not an admin, so everything they try on it answers 404,
exactly like a Team that does not exist; adding others and changing a Team are the admins' (403).
Everyone's membership is the admins' too: a member can neither leave it nor join it back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from typer.testing import CliRunner

from datadesk import store
from datadesk.access.caller import Caller
from datadesk.access.policy import may_join_team, may_leave_team, may_see_team
from datadesk.db import make_engine, transaction
from datadesk.identity.models import AuditEvent
from tests.conftest import TEST_SECRET
from tests.dbs import fresh_pg_database
from tests.web.conftest import sign_in
from tests.world import Person, Space, World

ROLES = ("viewer", "editor", "admin")
ACTIONS = ("list", "join", "leave", "add others", "make private")
STATES = ("public, member", "public, not member", "private, member", "private, not member", "Everyone")

# (action, state) -> outcome for (viewer, editor, admin)
MATRIX: dict[tuple[str, str], tuple[str, str, str]] = {
    ("list", "public, member"): ("listed", "listed", "listed"),
    ("list", "public, not member"): ("listed", "listed", "listed"),
    ("list", "private, member"): ("listed", "listed", "listed"),
    ("list", "private, not member"): ("hidden", "hidden", "listed"),
    ("list", "Everyone"): ("listed", "listed", "listed"),
    ("join", "public, member"): ("204", "204", "204"),
    ("join", "public, not member"): ("204", "204", "204"),
    ("join", "private, member"): ("204", "204", "204"),
    ("join", "private, not member"): ("404 not_found", "404 not_found", "204"),
    ("join", "Everyone"): ("403 everyone_team", "403 everyone_team", "204"),
    ("leave", "public, member"): ("204", "204", "204"),
    ("leave", "public, not member"): ("404 not_found", "404 not_found", "404 not_found"),
    ("leave", "private, member"): ("204", "204", "204"),
    ("leave", "private, not member"): ("404 not_found", "404 not_found", "404 not_found"),
    ("leave", "Everyone"): ("403 everyone_team", "403 everyone_team", "204"),
    ("add others", "public, member"): ("403 forbidden", "403 forbidden", "204"),
    ("add others", "public, not member"): ("403 forbidden", "403 forbidden", "204"),
    ("add others", "private, member"): ("403 forbidden", "403 forbidden", "204"),
    ("add others", "private, not member"): ("403 forbidden", "403 forbidden", "204"),
    ("add others", "Everyone"): ("403 forbidden", "403 forbidden", "204"),
    ("make private", "public, member"): ("403 forbidden", "403 forbidden", "200"),
    ("make private", "public, not member"): ("403 forbidden", "403 forbidden", "200"),
    ("make private", "private, member"): ("403 forbidden", "403 forbidden", "200"),
    ("make private", "private, not member"): ("403 forbidden", "403 forbidden", "200"),
    ("make private", "Everyone"): ("403 forbidden", "403 forbidden", "409 everyone_team"),
}
OTHER = {"viewer": "editor", "editor": "viewer", "admin": "viewer"}


@dataclass
class Setup:
    team_id: str
    person: Person
    other: Person


def _team(client: TestClient, space: Space, name: str, visibility: str | None = None) -> str:
    body: dict[str, Any] = {"name": name, **({"visibility": visibility} if visibility else {})}
    response = client.post("/api/v1/teams", json=body, headers=space.admin.headers)
    assert response.status_code == 201, response.text
    assert response.json()["visibility"] == (visibility or "public")
    return str(response.json()["id"])


def _put(client: TestClient, space: Space, team_id: str, person: Person) -> None:
    response = client.put(f"/api/v1/teams/{team_id}/members/{person.id}", headers=space.admin.headers)
    assert response.status_code == 204, response.text


def _arrange(client: TestClient, space: Space, role: str, state: str) -> Setup:
    person, other = space.people[role], space.people[OTHER[role]]
    if state == "Everyone":
        return Setup(space.everyone_id, person, other)
    team_id = _team(client, space, "Tigers", state.split(",")[0])
    if state.endswith(", member"):
        _put(client, space, team_id, person)
    return Setup(team_id, person, other)


def _state_of(client: TestClient, space: Space, team_id: str) -> dict[str, Any]:
    """The Team as the admin (who sees every Team) reads it."""
    teams = {t["id"]: t for t in client.get("/api/v1/teams", headers=space.admin.headers).json()["teams"]}
    return dict(teams[team_id])


def _outcome(response: Any) -> str:
    if response.status_code < 300:
        return str(response.status_code)
    return f"{response.status_code} {response.json()['error']['code']}"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", ACTIONS)
def test_team_visibility_matrix(client: TestClient, world: World, action: str, state: str, role: str) -> None:
    space = world.a
    setup = _arrange(client, space, role, state)
    expected = MATRIX[(action, state)][ROLES.index(role)]
    before = _state_of(client, space, setup.team_id)
    headers = setup.person.headers
    url = f"/api/v1/teams/{setup.team_id}"
    if action == "list":
        listed = client.get("/api/v1/teams", headers=headers).json()["teams"]
        outcome = "listed" if setup.team_id in {t["id"] for t in listed} else "hidden"
    elif action == "join":
        outcome = _outcome(client.post(f"{url}/members/me", headers=headers))
    elif action == "leave":
        outcome = _outcome(client.delete(f"{url}/members/me", headers=headers))
    elif action == "add others":
        outcome = _outcome(client.put(f"{url}/members/{setup.other.id}", headers=headers))
    else:
        outcome = _outcome(client.patch(url, json={"visibility": "private"}, headers=headers))
    assert outcome == expected

    # What changed is exactly what the outcome says, and nothing when refused.
    after = _state_of(client, space, setup.team_id)
    members = set(before["member_ids"])
    if outcome == "204" and action == "join":
        members.add(setup.person.id)
    if outcome == "204" and action == "leave":
        members.discard(setup.person.id)
    if outcome == "204" and action == "add others":
        members.add(setup.other.id)
    assert set(after["member_ids"]) == members
    made_private = action == "make private" and outcome == "200"
    assert after["visibility"] == ("private" if made_private else before["visibility"])
    assert after["name"] == before["name"]


# --- another workspace's Teams ----------------------------------------------------------------


@pytest.mark.parametrize("visibility", ["public", "private"])
@pytest.mark.parametrize("role", ROLES)
def test_another_workspaces_teams_answer_404_like_missing_ones(
    client: TestClient, world: World, role: str, visibility: str
) -> None:
    theirs = _team(client, world.b, "Otters", visibility)
    person = world.a.people[role]
    base = f"/api/v1/teams/{theirs}"
    missing = "/api/v1/teams/" + "0" * 32
    for url in (base, missing):
        for method in ("POST", "DELETE"):
            response = client.request(method, f"{url}/members/me", headers=person.headers)
            assert response.status_code == 404, response.text
            assert response.json() == {"error": {"code": "not_found", "message": "No such Team."}}
        admin_only = [
            client.patch(url, json={"visibility": "public"}, headers=person.headers),
            client.put(f"{url}/members/{person.id}", headers=person.headers),
            client.delete(f"{url}/members/{world.b.viewer.id}", headers=person.headers),
            client.delete(url, headers=person.headers),
        ]
        # Non-admins are refused by role before any lookup, so 403 says nothing about the id either.
        assert [r.status_code for r in admin_only] == [404 if role == "admin" else 403] * 4
    listed = {t["id"] for t in client.get("/api/v1/teams", headers=person.headers).json()["teams"]}
    assert theirs not in listed and world.b.teams["Finance"] not in listed
    state = _state_of(client, world.b, theirs)
    assert state["member_ids"] == [] and state["visibility"] == visibility


# --- the API's shapes and rules ---------------------------------------------------------------


def test_teams_are_public_by_default_and_everyone_stays_public(client: TestClient, world: World) -> None:
    a = world.a
    teams = client.get("/api/v1/teams", headers=a.viewer.headers).json()["teams"]
    assert {t["name"]: t["visibility"] for t in teams} == {
        "Everyone": "public",
        "Finance": "public",
        "Marketing": "public",
    }
    assert set(teams[0]) == {"id", "name", "visibility", "is_everyone", "member_ids"}
    bad = client.post("/api/v1/teams", json={"name": "Moles", "visibility": "secret"}, headers=a.admin.headers)
    assert bad.status_code == 422
    everyone = f"/api/v1/teams/{a.everyone_id}"
    for body in ({"visibility": "private"}, {"name": "All hands"}):
        refused = client.patch(everyone, json=body, headers=a.admin.headers)
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "everyone_team"
    same = client.patch(everyone, json={"name": "Everyone", "visibility": "public"}, headers=a.admin.headers)
    assert same.status_code == 200 and same.json()["visibility"] == "public"


def test_patch_renames_and_keeps_what_is_absent_or_null(client: TestClient, world: World, sessions: Any) -> None:
    a = world.a
    team_id = _team(client, a, "Lynx", "private")
    url = f"/api/v1/teams/{team_id}"
    renamed = client.patch(url, json={"name": "  Lynxes "}, headers=a.admin.headers)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Lynxes" and renamed.json()["visibility"] == "private"
    kept = client.patch(url, json={"name": None, "visibility": None}, headers=a.admin.headers)
    assert kept.status_code == 200 and kept.json()["name"] == "Lynxes" and kept.json()["visibility"] == "private"
    taken = client.patch(url, json={"name": "finance"}, headers=a.admin.headers)
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "team_exists"
    assert client.patch(url, json={"name": ""}, headers=a.admin.headers).status_code == 422
    assert client.patch(url, json={"colour": "red"}, headers=a.admin.headers).status_code == 422
    opened = client.patch(url, json={"visibility": "public"}, headers=a.admin.headers)
    assert opened.status_code == 200 and opened.json()["visibility"] == "public"
    with transaction(sessions, a.id) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.target == team_id).order_by(AuditEvent.at)).all()
        updates = [(e.before, e.after) for e in events if e.action == "team.update"]
    assert updates == [
        ({"name": "Lynx", "visibility": "private"}, {"name": "Lynxes", "visibility": "private"}),
        ({"name": "Lynxes", "visibility": "private"}, {"name": "Lynxes", "visibility": "public"}),
    ]


def test_joining_and_leaving_are_audited_as_the_person(client: TestClient, world: World, sessions: Any) -> None:
    a = world.a
    team_id = _team(client, a, "Herons")
    assert client.post(f"/api/v1/teams/{team_id}/members/me", headers=a.viewer.headers).status_code == 204
    assert client.post(f"/api/v1/teams/{team_id}/members/me", headers=a.viewer.headers).status_code == 204
    assert client.delete(f"/api/v1/teams/{team_id}/members/me", headers=a.viewer.headers).status_code == 204
    with transaction(sessions, a.id) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.target == team_id).order_by(AuditEvent.at)).all()
        trail = [(e.action, e.actor_user_id) for e in events]
    assert trail == [
        ("team.create", a.admin.id),
        ("team.member.join", a.viewer.id),  # once: the second join changed nothing
        ("team.member.leave", a.viewer.id),
    ]


def test_private_teams_stay_out_of_member_listings_for_non_members(client: TestClient, world: World) -> None:
    a = world.a
    secret = _team(client, a, "Secret Projects", "private")
    _put(client, a, secret, a.editor)
    for who, sees in (("viewer", False), ("editor", True), ("admin", True)):
        headers = a.people[who].headers
        editor = client.get(f"/api/v1/members/{a.editor.id}", headers=headers).json()
        assert (secret in editor["team_ids"]) is sees
        listed = {m["id"]: m for m in client.get("/api/v1/members", headers=headers).json()["members"]}
        assert (secret in listed[a.editor.id]["team_ids"]) is sees
        assert a.teams["Finance"] in listed[a.editor.id]["team_ids"]


def test_a_private_team_left_cannot_be_joined_back(client: TestClient, world: World) -> None:
    a = world.a
    secret = _team(client, a, "Secret Projects", "private")
    _put(client, a, secret, a.viewer)
    url = f"/api/v1/teams/{secret}/members/me"
    assert client.delete(url, headers=a.viewer.headers).status_code == 204
    again = client.post(url, headers=a.viewer.headers)
    assert again.status_code == 404 and again.json()["error"]["code"] == "not_found"
    assert secret not in {t["id"] for t in client.get("/api/v1/teams", headers=a.viewer.headers).json()["teams"]}


def test_the_operator_has_no_me(sessions: Any, world: World) -> None:
    from datadesk.errors import Invalid
    from datadesk.identity import joining

    with pytest.raises(Invalid), transaction(sessions, world.a.id) as session:
        joining.join_team(session=session, caller=Caller.operator(world.a.id), team_id=world.a.teams["Finance"])


def test_policy_table() -> None:
    def caller(role: str, teams: set[str]) -> Caller:
        return Caller(workspace_id="w", user_id="u", role=role, team_ids=frozenset(teams))

    rows = [
        # role, in the Team?, private?, Everyone? -> may see, may join, may leave
        ("viewer", False, False, False, (True, True, True)),
        ("viewer", False, True, False, (False, False, True)),
        ("viewer", True, True, False, (True, True, True)),
        ("editor", False, True, False, (False, False, True)),
        ("editor", True, False, True, (True, False, False)),
        ("admin", False, True, False, (True, True, True)),
        ("admin", True, False, True, (True, True, True)),
    ]
    for role, member, private, everyone, expected in rows:
        who = caller(role, {"t"} if member else set())
        got = (
            may_see_team(who, "t", private=private),
            may_join_team(who, "t", private=private, everyone=everyone),
            may_leave_team(who, everyone=everyone),
        )
        assert got == expected, (role, member, private, everyone)


# --- membership drives visibility from the next request on -------------------------------------


def test_joining_and_leaving_change_what_one_sees_at_once(client: TestClient, world: World) -> None:
    a = world.a
    team_id = _team(client, a, "Ravens")
    doc = client.post(
        "/api/v1/resources",
        json={
            "type": "document",
            "name": "Ravens field notes",
            "description": "Corvid sightings.",
            "team_ids": [team_id],
        },
        headers=a.admin.headers,
    )
    assert doc.status_code == 201, doc.text
    doc_id = doc.json()["id"]

    def sees() -> tuple[int, bool]:
        got = client.get(f"/api/v1/resources/{doc_id}", headers=a.viewer.headers).status_code
        found = client.get("/api/v1/search", params={"q": "corvid sightings"}, headers=a.viewer.headers).json()
        return got, doc_id in {r["id"] for r in found["results"]}

    assert sees() == (404, False)
    assert client.post(f"/api/v1/teams/{team_id}/members/me", headers=a.viewer.headers).status_code == 204
    assert sees() == (200, True)
    assert client.delete(f"/api/v1/teams/{team_id}/members/me", headers=a.viewer.headers).status_code == 204
    assert sees() == (404, False)
    # an admin making the Team private does not take its members' view away, only its listing from others
    _put(client, a, team_id, a.viewer)
    private = client.patch(f"/api/v1/teams/{team_id}", json={"visibility": "private"}, headers=a.admin.headers)
    assert private.status_code == 200
    assert sees() == (200, True)
    assert team_id not in {t["id"] for t in client.get("/api/v1/teams", headers=a.editor.headers).json()["teams"]}


# --- web pages --------------------------------------------------------------------------------


def test_the_teams_page_lists_joins_and_leaves(client: TestClient, world: World) -> None:
    a = world.a
    otters = _team(client, a, "Otters")
    secret = _team(client, a, "Secret Projects", "private")
    hidden = _team(client, a, "Skunkworks", "private")
    _put(client, a, secret, a.viewer)
    token = sign_in(client, a.viewer)
    page = client.get("/teams")
    assert page.status_code == 200
    html = page.text
    assert 'href="/teams"' in html  # the nav link
    assert "Otters" in html and "Secret Projects" in html and "Skunkworks" not in html and hidden not in html
    assert f'action="/teams/{otters}/join"' in html and f'action="/teams/{secret}/leave"' in html
    assert f"/teams/{a.everyone_id}/leave" not in html and f"/teams/{a.everyone_id}/join" not in html
    assert f'action="/teams/{a.teams["Marketing"]}/leave"' in html

    # without the session's CSRF token nothing happens
    refused = client.post(f"/teams/{otters}/join", data={}, follow_redirects=False)
    assert refused.status_code == 403
    joined = client.post(f"/teams/{otters}/join", data={"csrf_token": token}, follow_redirects=False)
    assert joined.status_code == 303 and joined.headers["location"].startswith("/teams")
    assert a.viewer.id in _state_of(client, a, otters)["member_ids"]
    assert f'action="/teams/{otters}/leave"' in client.get("/teams").text
    left = client.post(f"/teams/{secret}/leave", data={"csrf_token": token}, follow_redirects=False)
    assert left.status_code == 303
    after = client.get("/teams").text
    assert "Secret Projects" not in after
    # a private Team one is not in answers like a missing page, and Everyone is not theirs to leave
    assert client.post(f"/teams/{hidden}/join", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/teams/{a.everyone_id}/leave", data={"csrf_token": token}).status_code == 403
    assert a.viewer.id in _state_of(client, a, a.everyone_id)["member_ids"]


def test_the_admin_teams_page_creates_private_teams_and_switches_them(client: TestClient, world: World) -> None:
    a = world.a
    token = sign_in(client, a.admin)
    html = client.get("/admin/teams").text
    assert 'name="visibility" value="private"' in html
    created = client.post(
        "/admin/teams", data={"name": "Vault", "visibility": "private", "csrf_token": token}, follow_redirects=False
    )
    assert created.status_code == 303, created.text
    vault = next(
        t for t in client.get("/api/v1/teams", headers=a.admin.headers).json()["teams"] if t["name"] == "Vault"
    )
    assert vault["visibility"] == "private"
    assert "Vault" not in {t["name"] for t in client.get("/api/v1/teams", headers=a.viewer.headers).json()["teams"]}
    switched = client.post(
        f"/admin/teams/{vault['id']}/visibility",
        data={"visibility": "public", "csrf_token": token},
        follow_redirects=False,
    )
    assert switched.status_code == 303
    assert _state_of(client, a, vault["id"])["visibility"] == "public"
    nonsense = client.post(f"/admin/teams/{vault['id']}/visibility", data={"visibility": "secret", "csrf_token": token})
    assert nonsense.status_code == 400 and "Pick public or private." in nonsense.text
    everyone = client.post(
        f"/admin/teams/{a.everyone_id}/visibility", data={"visibility": "private", "csrf_token": token}
    )
    assert everyone.status_code == 400 and "always public" in everyone.text
    assert f"/admin/teams/{a.everyone_id}/visibility" not in client.get("/admin/teams").text
    sign_in(client, a.viewer)
    assert client.get("/admin/teams").status_code == 403


# --- the command line -------------------------------------------------------------------------


def test_cli_creates_private_teams(tmp_path: Path, database_url: str) -> None:
    from datadesk.cli import app as cli

    runner = CliRunner()
    env = {
        "DATADESK_HOME": str(tmp_path / "home"),
        "DATADESK_DATABASE_URL": database_url,
        "DATADESK_SECRET_KEY": TEST_SECRET,
    }

    def run(*args: str) -> str:
        result = runner.invoke(cli, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.stdout

    run("init", "--workspace", "acme", "--admin-email", "ada@acme.com", "--admin-password", "pw-12345678")
    assert "private Team Vault" in run("teams", "create", "-w", "acme", "Vault", "--private")
    run("teams", "create", "-w", "acme", "Open")
    teams = {t["name"]: t["visibility"] for t in json.loads(run("teams", "list", "-w", "acme", "--json"))}
    assert teams == {"Everyone": "public", "Vault": "private", "Open": "public"}


# --- the migration ----------------------------------------------------------------------------


def _migrate_over_existing_teams(url: str) -> list[tuple[str, str]]:
    engine = make_engine(url)
    store.upgrade(engine, "20261204_0006")
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO workspace (id, slug, name, created_at) VALUES ('w1', 'w', 'W', :t)"), {"t": "2026-01-01"}
        )
        for team_id, name, everyone in (("t1", "Everyone", True), ("t2", "Finance", False)):
            conn.execute(
                text(
                    "INSERT INTO team (id, workspace_id, name, is_everyone, created_at) VALUES (:i, 'w1', :n, :e, :t)"
                ),
                {"i": team_id, "n": name, "e": everyone, "t": "2026-01-01"},
            )
    store.upgrade(engine, "20261204_0007")
    with engine.connect() as conn:
        rows = [(str(r[0]), str(r[1])) for r in conn.execute(text("SELECT name, visibility FROM team ORDER BY name"))]
    engine.dispose()
    return rows


def test_migration_makes_existing_teams_public_on_sqlite(tmp_path: Path) -> None:
    assert _migrate_over_existing_teams(f"sqlite:///{tmp_path / 'old.db'}") == [
        ("Everyone", "public"),
        ("Finance", "public"),
    ]


def test_migration_makes_existing_teams_public_on_postgres() -> None:
    with fresh_pg_database("dd_teams") as url:
        assert _migrate_over_existing_teams(url) == [("Everyone", "public"), ("Finance", "public")]

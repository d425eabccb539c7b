"""Admins govern the whole workspace: they see every Team's resources through every door; others keep the Team rule.

The admin here is in no Team but Everyone (or in none at all); the resources belong to a private
"Secret Projects" Team they are not in: a document the admin creates for it, and a synced table and
the view reading it. A viewer and an editor (Marketing, Finance) must still see none of it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.catalog.helpers import add_integration, by_name, search, sync
from tests.mcp.conftest import connect, mcp_url, run, text_of, unfence  # noqa: F401  (mcp_url: fixture)
from tests.world import PASSWORD, Person, World

DOC = "Project Nightjar plan"
NOT_FOUND = {"error": {"code": "not_found", "message": "No such resource."}}


@dataclass
class Secret:
    governor: Person
    team_id: str
    doc: str
    table: str
    view: str

    @property
    def ids(self) -> set[str]:
        return {self.doc, self.table, self.view}


def _governor(client: TestClient, world: World, in_everyone: bool) -> Person:
    a = world.a
    email = "governor@alpha.example.com"
    added = client.post(
        "/api/v1/members", json={"email": email, "role": "admin", "password": PASSWORD}, headers=a.admin.headers
    )
    assert added.status_code == 201, added.text
    login = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD, "workspace": a.slug})
    assert login.status_code == 200, login.text
    person = Person(added.json()["id"], email, "admin", login.json()["token"])
    if not in_everyone:
        left = client.delete(f"/api/v1/teams/{a.everyone_id}/members/me", headers=person.headers)
        assert left.status_code == 204, left.text
    teams = client.get(f"/api/v1/members/{person.id}", headers=person.headers).json()["team_ids"]
    assert teams == ([a.everyone_id] if in_everyone else [])
    return person


@pytest.fixture(params=["in Everyone only", "in no Team"])
def secret(request: pytest.FixtureRequest, client: TestClient, world: World, tmp_path: Path) -> Secret:
    a = world.a
    governor = _governor(client, world, request.param == "in Everyone only")
    team = client.post(
        "/api/v1/teams", json={"name": "Secret Projects", "visibility": "private"}, headers=governor.headers
    )
    assert team.status_code == 201, team.text
    team_id = team.json()["id"]
    path = tmp_path / "vault.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE launch_plans (id INTEGER PRIMARY KEY, codename TEXT, launch_on TEXT);
        CREATE VIEW launch_dates AS SELECT id, launch_on FROM launch_plans;
        """
    )
    conn.close()
    integration = add_integration(client, governor, "vault", "sqlite", {"url": f"sqlite:///{path}"}, [team_id])
    assert sync(client, governor, integration["id"])["status"] == "succeeded"
    doc = client.post(
        "/api/v1/resources",
        json={
            "type": "document",
            "name": DOC,
            "description": "Nightjar launches in spring; codenames stay inside the Team.",
            "team_ids": [team_id],
        },
        headers=governor.headers,
    )
    assert doc.status_code == 201, doc.text
    # the reproduction: an admin gets what they just created for a Team they are not in
    assert client.get(f"/api/v1/resources/{doc.json()['id']}", headers=governor.headers).status_code == 200
    found = by_name(client, governor, integration_id=integration["id"])
    table, view = found["vault.main.launch_plans"]["id"], found["vault.main.launch_dates"]["id"]
    assert a.admin.id != governor.id
    return Secret(governor, team_id, doc.json()["id"], table, view)


def _people(world: World, secret: Secret) -> list[tuple[Person, bool]]:
    return [(secret.governor, True), (world.a.admin, True), (world.a.editor, False), (world.a.viewer, False)]


def test_api_get_list_search_and_lineage(client: TestClient, world: World, secret: Secret) -> None:
    for person, sees in _people(world, secret):
        for rid in sorted(secret.ids):
            got = client.get(f"/api/v1/resources/{rid}", headers=person.headers)
            assert got.status_code == (200 if sees else 404), (person.email, rid)
            if not sees:
                assert got.json() == NOT_FOUND
        listed = {r["id"] for r in by_name(client, person).values()}
        documents = {r["id"] for r in by_name(client, person, type="document").values()}
        if sees:
            assert secret.ids <= listed and secret.doc in documents, person.email
        else:
            assert not (secret.ids & (listed | documents)), person.email
        hits = {h["id"] for q in ("nightjar", "launch_plans", "launch dates") for h in search(client, person, q)}
        assert (secret.ids <= hits) if sees else not (secret.ids & hits), person.email
        for rid, side, other in ((secret.view, "upstream", secret.table), (secret.table, "downstream", secret.view)):
            lineage = client.get(f"/api/v1/resources/{rid}/lineage", headers=person.headers)
            if sees:
                assert other in {r["id"] for r in lineage.json()[side]}
            else:
                assert lineage.status_code == 404 and lineage.json() == NOT_FOUND
    # and the private Team itself: listed to the admins, not to the others
    for person, sees in _people(world, secret):
        teams = {t["id"] for t in client.get("/api/v1/teams", headers=person.headers).json()["teams"]}
        assert (secret.team_id in teams) is sees


def _ask(client: TestClient, person: Person, question: str) -> dict[str, Any]:
    response = client.post("/api/v1/ai/ask", json={"question": question}, headers=person.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["provider"] == "local"
    return body


def test_the_assistant_cites_them_to_admins_only(client: TestClient, world: World, secret: Secret) -> None:
    for person, sees in _people(world, secret):
        described = _ask(client, person, f"Describe {DOC}")
        cited = {c["resource_id"] for c in described["citations"]}
        assert (secret.doc in cited) is sees, (person.email, described)
        assert ("Nightjar launches in spring" in described["answer"]) is sees
        table = _ask(client, person, "Describe launch_plans")
        assert (secret.table in {c["resource_id"] for c in table["citations"]}) is sees, (person.email, table)
        feeds = _ask(client, person, "What feeds launch_dates?")
        assert ("**launch_plans** (table in vault.main)" in feeds["answer"]) is sees, (person.email, feeds)
        if not sees:
            everything = str(described) + str(table) + str(feeds)
            assert not any(rid in everything for rid in secret.ids) and "codename" not in everything


def test_mcp_get_resource_and_search_catalog(client: TestClient, world: World, secret: Secret, mcp_url: str) -> None:  # noqa: F811
    outcomes: dict[str, tuple[set[str], set[str], set[str]]] = {}

    async def main() -> None:
        for person, _ in _people(world, secret):
            async with connect(mcp_url, person.token) as mcp:
                got: set[str] = set()
                refused: set[str] = set()
                for rid in sorted(secret.ids):
                    answer = await mcp.call_tool("get_resource", {"resource_id": rid})
                    if answer.is_error:
                        assert text_of(answer) == '{"error": {"code": "not_found", "message": "No such resource."}}'
                        refused.add(rid)
                    else:
                        got |= {c["id"] for c in unfence(text_of(answer))}
                found: set[str] = set()
                for query in ("nightjar", "launch_plans"):
                    reply = text_of(await mcp.call_tool("search_catalog", {"query": query}))
                    if reply != "No matching resources in the catalog.":
                        found |= {c["id"] for c in unfence(reply)}
                outcomes[person.email] = (got, refused, found)

    run(main)
    for person, sees in _people(world, secret):
        got, refused, found = outcomes[person.email]
        if sees:
            assert secret.ids <= got and not refused and {secret.doc, secret.table} <= found, person.email
        else:
            assert refused == secret.ids and not (secret.ids & (got | found)), person.email

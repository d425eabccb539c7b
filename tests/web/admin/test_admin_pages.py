"""The admin pages over the services, through an HTTP client: members, Teams, integrations, audit."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from tests.catalog.sources import build_shop
from tests.web.conftest import Warehouse, sign_in
from tests.world import World


def test_admin_manages_members_and_teams(client: TestClient, world: World) -> None:
    token = sign_in(client, world.a.admin)
    added = client.post(
        "/admin/members",
        data={"email": "newbie@alpha.example.com", "role": "editor", "password": "long enough pw", "csrf_token": token},
        follow_redirects=False,
    )
    assert added.status_code == 303
    again = client.post(
        "/admin/members", data={"email": "newbie@alpha.example.com", "role": "editor", "csrf_token": token}
    )
    assert again.status_code == 400 and "already a member" in again.text
    members = client.get("/api/v1/members", headers=world.a.admin.headers).json()["members"]
    newbie = next(m for m in members if m["email"] == "newbie@alpha.example.com")
    client.post(f"/admin/members/{newbie['id']}/role", data={"role": "viewer", "csrf_token": token})
    client.post("/admin/teams", data={"name": "Data Eng", "csrf_token": token})
    teams = client.get("/api/v1/teams", headers=world.a.admin.headers).json()["teams"]
    data_eng = next(t for t in teams if t["name"] == "Data Eng")
    client.post(f"/admin/teams/{data_eng['id']}/members", data={"user_id": newbie["id"], "csrf_token": token})
    page = client.get("/admin/teams").text
    assert "Data Eng" in page and "newbie@alpha.example.com" in page
    me = client.post(f"/admin/members/{world.a.admin.id}/role", data={"role": "viewer", "csrf_token": token})
    assert me.status_code == 400 and "at least one admin" in me.text
    client.post(f"/admin/members/{newbie['id']}/remove", data={"csrf_token": token})
    assert "newbie@alpha.example.com" not in client.get("/admin/members").text
    assert client.get("/api/v1/teams", headers=world.a.admin.headers).json()["teams"]


def test_admin_connects_and_syncs_an_integration(client: TestClient, world: World, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3
    import time

    path = tmp_path / "more.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total INTEGER)")
    conn.commit()
    conn.close()
    token = sign_in(client, world.a.admin)
    created = client.post(
        "/admin/integrations",
        data={
            "name": "billing",
            "type": "sqlite",
            "url": f"sqlite:///{path}",
            "team_id": world.a.teams["Finance"],
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    page_url = created.headers["location"].split("?")[0]
    integration_id = page_url.rsplit("/", 1)[1]
    started = client.post(f"{page_url}/sync", data={"csrf_token": token}, headers={"HX-Request": "true"})
    assert 'id="sync-run"' in started.text
    run_id = re.search(r"/syncs/([0-9a-f]{32})", started.text)
    deadline = time.monotonic() + 30
    status = started.text
    while run_id and "every 1s" in status and time.monotonic() < deadline:
        time.sleep(0.1)
        status = client.get(f"{page_url}/syncs/{run_id.group(1)}", headers={"HX-Request": "true"}).text
    assert "succeeded" in status and "created" in status
    page = client.get(page_url).text
    assert "History" in page and "Finance" in page
    assert "invoices" in client.get("/", params={"integration_id": integration_id}).text
    client.post(f"{page_url}/delete", data={"csrf_token": token})
    assert client.get(page_url).status_code == 404


def test_llm_audit_log_with_filters(client: TestClient, world: World, warehouse: Warehouse) -> None:
    token = sign_in(client, world.a.editor)
    client.post("/ai/ask", data={"question": "Who owns orders?", "csrf_token": token})
    sign_in(client, world.a.admin)
    page = client.get("/admin/audit").text
    assert world.a.editor.email in page and "this server" in page and "datadesk-local-1" in page
    assert "Who owns orders?" not in page  # never the prompt text
    assert "No requests match" in client.get("/admin/audit", params={"user_id": world.a.viewer.id}).text
    mine = client.get("/admin/audit", params={"user_id": world.a.editor.id}).text
    assert mine.count("datadesk-local-1") >= 1
    assert "No requests match" in client.get("/admin/audit", params={"provider": "openai"}).text
    assert "YYYY-MM-DD" in client.get("/admin/audit", params={"since": "yesterday"}).text


def test_admin_schedules_an_integration_from_its_page(client: TestClient, world: World, warehouse: Warehouse) -> None:
    token = sign_in(client, world.a.admin)
    url = f"/admin/integrations/{warehouse.integration_id}"
    assert "syncs only when asked" in client.get(url).text
    saved = client.post(f"{url}/schedule", data={"schedule": "30 2 * * 1", "csrf_token": token}, follow_redirects=False)
    assert saved.status_code == 303
    page = client.get(url).text
    assert 'name="schedule" value="30 2 * * 1"' in page and "next sync" in page
    refused = client.post(f"{url}/schedule", data={"schedule": "61 2 * * 1", "csrf_token": token})
    assert refused.status_code == 400 and "is not a valid cron expression" in refused.text
    body = client.get(f"/api/v1/integrations/{warehouse.integration_id}", headers=world.a.admin.headers).json()
    assert body["schedule"] == "30 2 * * 1"
    client.post(f"{url}/schedule", data={"schedule": "", "csrf_token": token}, follow_redirects=False)
    assert (
        client.get(f"/api/v1/integrations/{warehouse.integration_id}", headers=world.a.admin.headers).json()["schedule"]
        is None
    )
    editor = sign_in(client, world.a.editor)
    denied = client.post(f"{url}/schedule", data={"schedule": "0 3 * * *", "csrf_token": editor})
    assert denied.status_code in (403, 404)


def test_the_connect_form_offers_admins_query_access_ticked(client: TestClient, world: World, tmp_path: Path) -> None:
    token = sign_in(client, world.a.admin)
    assert re.search(r'name="grant_admins" value="true" checked', client.get("/admin/integrations").text)
    for name, ticked in (("ticked", True), ("unticked", False)):
        form = {"name": name, "type": "sqlite", "url": f"sqlite:///{build_shop(tmp_path / f'{name}.db')}"}
        # an unticked checkbox posts nothing at all
        data = {**form, "csrf_token": token, **({"grant_admins": "true"} if ticked else {})}
        created = client.post("/admin/integrations", data=data, follow_redirects=False)
        assert created.status_code == 303, created.text
        integration_id = created.headers["location"].split("?")[0].rsplit("/", 1)[1]
        grants = client.get(f"/api/v1/integrations/{integration_id}/permissions", headers=world.a.admin.headers)
        assert grants.json() == {"query_access": ["role:admin"] if ticked else [], "sensitive_access": []}
    # a refused form keeps the box as it was sent
    url = f"sqlite:///{build_shop(tmp_path / 'again.db')}"
    again = client.post(
        "/admin/integrations", data={"name": "ticked", "type": "sqlite", "url": url, "csrf_token": token}
    )
    assert again.status_code == 400 and "already exists" in again.text
    assert 'name="grant_admins" value="true">' in again.text


def test_the_connect_form_creates_dbt_without_a_grant(client: TestClient, world: World) -> None:
    manifest = Path(__file__).resolve().parents[2] / "fixtures" / "dbt" / "jaffle-shop" / "manifest.json"
    token = sign_in(client, world.a.admin)
    data = {
        "name": "jaffle",
        "type": "dbt",
        "manifest_path": str(manifest),
        "grant_admins": "true",
        "csrf_token": token,
    }
    created = client.post("/admin/integrations", data=data, follow_redirects=False)
    assert created.status_code == 303, created.text
    integration_id = created.headers["location"].split("?")[0].rsplit("/", 1)[1]
    grants = client.get(f"/api/v1/integrations/{integration_id}/permissions", headers=world.a.admin.headers)
    assert grants.json() == {"query_access": [], "sensitive_access": []}

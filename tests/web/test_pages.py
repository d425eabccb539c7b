"""The pages over the services, through an HTTP client: browsing, editing, asking, history."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from datadesk.catalog import service
from datadesk.db import transaction
from tests.web.conftest import ORDERS, Warehouse, sign_in
from tests.world import World


def test_home_lists_searches_and_filters(client: TestClient, world: World, warehouse: Warehouse) -> None:
    sign_in(client, world.a.viewer)
    home = client.get("/").text
    assert "Most used tables" in home and "orders" in home
    found = client.get("/", params={"q": "orders"}).text
    assert f"/resources/{warehouse.id('shop.main.orders')}" in found
    fragment = client.get("/", params={"q": "orders"}, headers={"HX-Request": "true", "HX-Target": "results"}).text
    assert "<html" not in fragment and f"/resources/{warehouse.id('shop.main.orders')}" in fragment
    tagged = client.get("/", params={"tag": "core"}).text
    assert f"/resources/{warehouse.id('shop.main.orders')}" in tagged
    assert f"/resources/{warehouse.id('shop.main.customers')}" not in tagged
    views = client.get("/", params={"type": "view"}).text
    assert "big_orders" in views and f"/resources/{warehouse.id('shop.main.orders')}" not in views
    none = client.get("/", params={"q": "zzzqqq"}).text
    assert "Nothing you can see matches" in none


def test_resource_page_shows_everything(client: TestClient, world: World, warehouse: Warehouse) -> None:
    sign_in(client, world.a.viewer)
    page = client.get(f"/resources/{warehouse.id('shop.main.orders')}").text
    for expected in ("Every order placed in the <strong>web shop</strong>", "customer_id", "amount", "Finance", "core"):
        assert expected in page, expected
    assert "Gross revenue" in page  # a glossary term links to it
    assert "big_orders" in page  # downstream lineage (the view reads orders)
    assert "Edit" not in re.sub(r"<[^>]+>", " ", page).split()  # a viewer gets no editor
    term = client.get(f"/resources/{warehouse.id('glossary.Gross revenue')}").text
    assert "Sum of order amounts before refunds." in term and "shop.main.orders" in term


def test_other_teams_resources_are_not_found(client: TestClient, world: World, warehouse: Warehouse) -> None:
    customers = warehouse.id("shop.main.customers")
    token = sign_in(client, world.a.admin)
    response = client.post(
        f"/resources/{customers}/edit/tags", data={"text": "pii", "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303
    with transaction(client.app.state.sessions, world.a.id) as session:  # type: ignore[attr-defined]
        service.update(
            session=session,
            caller=world.a.caller("admin"),
            resource_id=customers,
            changes=service.Changes(team_ids=[world.a.teams["Finance"]]),
        )
    sign_in(client, world.a.viewer)  # Marketing, not Finance
    assert client.get(f"/resources/{customers}").status_code == 404
    assert f"/resources/{customers}" not in client.get("/", params={"q": "customers"}).text
    assert f"/resources/{customers}" not in client.get("/", params={"type": "table"}).text
    sign_in(client, world.b.admin, workspace="beta")
    assert client.get(f"/resources/{warehouse.id('shop.main.orders')}").status_code == 404


def test_editor_edits_description_owners_and_tags(client: TestClient, world: World, warehouse: Warehouse) -> None:
    token = sign_in(client, world.a.editor)
    orders = warehouse.id("shop.main.orders")
    form = client.get(f"/resources/{orders}/edit/description", headers={"HX-Request": "true"}).text
    assert "<textarea" in form and "<html" not in form
    without_js = client.get(f"/resources/{orders}/edit/description", follow_redirects=False)
    assert without_js.headers["location"] == f"/resources/{orders}?edit=description#f-description"
    assert "<textarea" in client.get(f"/resources/{orders}?edit=description").text
    saved = client.post(
        f"/resources/{orders}/edit/description",
        data={"text": "All orders, *documented*.", "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert "All orders, <em>documented</em>." in saved.text and "Saved" in saved.text
    client.post(f"/resources/{orders}/edit/tags", data={"text": "gold, Core ,", "csrf_token": token})
    client.post(
        f"/resources/{orders}/edit/owners",
        data={"owner": [f"user:{world.a.editor.id}", f"team:{world.a.teams['Marketing']}"], "csrf_token": token},
    )
    api = client.get(f"/api/v1/resources/{orders}", headers=world.a.admin.headers).json()
    assert api["description"] == "All orders, *documented*."
    assert api["tags"] == ["core", "gold"]
    assert {o["name"] for o in api["owners"]} == {world.a.editor.email, "Marketing"}


def test_viewer_cannot_edit(client: TestClient, world: World, warehouse: Warehouse) -> None:
    token = sign_in(client, world.a.viewer)
    orders = warehouse.id("shop.main.orders")
    assert client.get(f"/resources/{orders}?edit=description").status_code == 403
    assert client.get(f"/resources/{orders}/edit/description", headers={"HX-Request": "true"}).status_code == 403
    response = client.post(f"/resources/{orders}/edit/description", data={"text": "nope", "csrf_token": token})
    assert response.status_code == 403 and "Only editors and admins" in response.text
    glossary = client.get("/glossary").text
    assert "Gross revenue" in glossary and "New term" not in glossary
    assert client.post("/glossary", data={"name": "X", "text": "y", "csrf_token": token}).status_code == 403


def test_glossary_and_documents_are_written_in_markdown(client: TestClient, world: World) -> None:
    token = sign_in(client, world.a.editor)
    created = client.post(
        "/documents",
        data={"name": "Runbook", "text": "# Steps\n\n1. Sync\n2. **Check**", "tags": "ops", "csrf_token": token},
        follow_redirects=False,
    )
    assert created.status_code == 303
    page = client.get(created.headers["location"]).text
    assert "<h1>Steps</h1>" in page and "<strong>Check</strong>" in page and "ops" in page
    term = client.post(
        "/glossary",
        data={
            "name": "ARR",
            "text": "Annual recurring revenue.",
            "team_id": world.a.teams["Finance"],
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert term.status_code == 303
    assert "ARR" in client.get("/glossary").text
    sign_in(client, world.a.viewer)  # Marketing: the Finance term is not theirs
    assert "ARR" not in client.get("/glossary").text and "Runbook" in client.get("/documents").text


def test_ask_without_javascript(client: TestClient, world: World, warehouse: Warehouse) -> None:
    token = sign_in(client, world.a.editor)
    response = client.post(
        "/ai/ask", data={"question": "Who owns orders?", "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"].startswith("/ai/prompts/")
    page = client.get(response.headers["location"]).text
    assert "is owned by Finance" in page
    assert f'href="/resources/{warehouse.id("shop.main.orders")}"' in page  # the citation
    assert "nothing left this server" in page
    assert 'class="history-item current"' in page
    empty = client.post("/ai/ask", data={"question": "   ", "csrf_token": token})
    assert empty.status_code == 400 and "Type a question first." in empty.text


def test_ask_streams_the_answer(client: TestClient, world: World, warehouse: Warehouse) -> None:
    token = sign_in(client, world.a.editor)
    response = client.post(
        "/ai/ask",
        data={"question": "Describe orders", "csrf_token": token},
        headers={"Accept": "text/event-stream"},
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [(m.group(1), json.loads(m.group(2))) for m in re.finditer(r"event: (\w+)\ndata: (.*)\n\n", response.text)]
    names = [name for name, _ in events]
    assert names[0] == "status" and "delta" in names and names[-1] == "final", response.text[-3000:]
    final = events[-1][1]
    assert final["url"] == f"/ai/prompts/{final['prompt_id']}"
    assert "Every order placed in the <strong>web shop</strong>" in final["html"]
    assert "nothing left this server" in final["html"]
    history = client.get(f"/ai/history?current={final['prompt_id']}", headers={"HX-Request": "true"}).text
    assert "Describe orders" in history and "current" in history


def test_assistant_switched_off(client: TestClient, world: World) -> None:
    client.put("/api/v1/settings/ai", json={"enabled": False}, headers=world.a.admin.headers)
    token = sign_in(client, world.a.viewer)
    assert "switched the assistant off" in client.get("/ai").text
    response = client.post("/ai/ask", data={"question": "Who owns orders?", "csrf_token": token})
    assert response.status_code == 403 and "switched off" in response.text


def test_history_open_delete_and_delete_all(client: TestClient, world: World, warehouse: Warehouse) -> None:
    token = sign_in(client, world.a.editor)
    ids = []
    for question in ("Who owns orders?", "Describe customers", "Describe orders"):
        location = client.post("/ai/ask", data={"question": question, "csrf_token": token}, follow_redirects=False)
        ids.append(location.headers["location"].rsplit("/", 1)[1])
    panel = client.post(
        f"/ai/prompts/{ids[0]}/delete",
        data={"current": ids[2], "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert "Who owns orders?" not in panel.text and "Describe customers" in panel.text
    gone = client.post(
        f"/ai/prompts/{ids[2]}/delete", data={"current": ids[2], "csrf_token": token}, follow_redirects=False
    )
    assert gone.headers["location"] == "/ai"
    assert client.get(f"/ai/prompts/{ids[2]}").status_code == 404
    sign_in(client, world.a.admin)
    assert client.get(f"/ai/prompts/{ids[1]}").status_code == 404  # nobody else opens it, admins neither
    token = sign_in(client, world.a.editor)
    client.post("/ai/prompts/delete-all", data={"csrf_token": token})
    assert client.get("/api/v1/ai/prompts", headers=world.a.editor.headers).json()["prompts"] == []
    assert "Your questions show up here" in client.get("/ai").text


def test_run_sql_through_the_pages(client: TestClient, world: World, warehouse: Warehouse) -> None:
    admin = sign_in(client, world.a.admin)
    form = {
        "provider": "local",
        "enabled": "1",
        "run_sql_enabled": "1",
        "prompt_retention_days": "30",
        "daily_token_budget": "0",
        "sql_row_cap": "1000",
        "sql_byte_cap": "2000000",
        "sql_timeout_seconds": "30",
        "sensitive_tags": "pii, secret",
        "csrf_token": admin,
    }
    assert 'name="sql_byte_cap" value="5000000"' in client.get("/admin/ai").text
    assert client.post("/admin/ai", data=form, follow_redirects=False).status_code == 303
    settings = client.get("/api/v1/settings/ai", headers=world.a.admin.headers).json()
    assert settings["run_sql_enabled"] and settings["prompt_retention_days"] == 30
    assert settings["sql_byte_cap"] == 2_000_000
    assert settings["sensitive_tags"] == ["pii", "secret"]
    granted = client.post(
        f"/admin/integrations/{warehouse.integration_id}/permissions",
        data={"query_access": f"team:{world.a.teams['Finance']}", "csrf_token": admin},
        follow_redirects=False,
    )
    assert granted.status_code == 303
    token = sign_in(client, world.a.editor)  # in Finance
    location = client.post("/ai/ask", data={"question": "How many rows in orders?", "csrf_token": token}).url
    page = client.get(location).text
    assert "SELECT COUNT(*) FROM orders" in page
    assert f"<td>{ORDERS}</td>" in page and "1 row" in page
    token = sign_in(client, world.a.viewer)  # Marketing: no query access
    page = client.post("/ai/ask", data={"question": "How many rows in orders?", "csrf_token": token}).text
    assert f"<td>{ORDERS}</td>" not in page and "cannot run SQL for you" in page

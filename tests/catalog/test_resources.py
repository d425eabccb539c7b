"""Documenting resources: roles, owners, tags, Teams, glossary terms, documents and links."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.catalog.helpers import by_name, search
from tests.world import World


def test_resource_shape_matches_the_contract(client: TestClient, world: World, shops: dict[str, Any]) -> None:
    orders = shops["a_resources"]["shop.main.orders"]
    body = client.get(f"/api/v1/resources/{orders['id']}", headers=world.a.editor.headers).json()
    for key in (
        "id",
        "type",
        "name",
        "qualified_name",
        "description",
        "definition",
        "owners",
        "tags",
        "popularity",
        "team_ids",
        "integration_id",
        "parent_id",
        "updated_at",
        "columns",
    ):
        assert key in body
    assert body["team_ids"] == [world.a.teams["Finance"]] and body["integration_id"] == shops["a"]["id"]
    assert set(body["columns"][0]) >= {"id", "name", "data_type", "description", "tags"}
    schema = client.get(f"/api/v1/resources/{body['parent_id']}", headers=world.a.editor.headers).json()
    assert (schema["type"] == "schema" and "columns" not in schema) or schema["columns"] is None


@pytest.mark.parametrize("who,status", [("admin", 200), ("editor", 200), ("viewer", 403)])
def test_only_editors_and_admins_document(
    client: TestClient, world: World, shops: dict[str, Any], who: str, status: int
) -> None:
    target = shops["open_resources"]["open.main.customers"]
    response = client.patch(
        f"/api/v1/resources/{target['id']}",
        json={"description": "People who bought."},
        headers=world.a.people[who].headers,
    )
    assert response.status_code == status
    created = client.post(
        "/api/v1/resources",
        json={"type": "glossary_term", "name": "ARR", "definition": "x"},
        headers=world.a.people[who].headers,
    )
    assert created.status_code == (201 if status == 200 else 403)


def test_owners_tags_and_teams(client: TestClient, world: World, shops: dict[str, Any]) -> None:
    target = shops["open_resources"]["open.main.customers"]
    url = f"/api/v1/resources/{target['id']}"
    body = client.patch(
        url,
        json={
            "owners": [{"kind": "user", "id": world.a.editor.id}, {"kind": "team", "id": world.a.teams["Marketing"]}],
            "tags": ["PII", "core", "pii"],
        },
        headers=world.a.editor.headers,
    ).json()
    assert body["tags"] == ["core", "pii"]
    assert {(o["kind"], o["name"]) for o in body["owners"]} == {("user", world.a.editor.email), ("team", "Marketing")}
    assert [r["id"] for r in search(client, world.a.viewer, "customers", tag="pii")] == [target["id"]]
    assert target["id"] in by_name(client, world.a.viewer, tag="pii").get("open.main.customers", {}).get("id", "")
    # owners must belong to this workspace
    for owner in (
        {"kind": "user", "id": world.b.admin.id},
        {"kind": "team", "id": world.b.teams["Finance"]},
        {"kind": "user", "id": "nobody"},
    ):
        bad = client.patch(url, json={"owners": [owner]}, headers=world.a.editor.headers)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "unknown_owner"
    bad_team = client.patch(url, json={"team_ids": [world.b.teams["Finance"]]}, headers=world.a.editor.headers)
    assert bad_team.status_code == 400 and bad_team.json()["error"]["code"] == "unknown_team"
    bad_tag = client.patch(url, json={"tags": ["no spaces allowed"]}, headers=world.a.editor.headers)
    assert bad_tag.status_code == 422
    # Teams: narrowing to Finance hides it (and its columns) from the Marketing viewer
    narrowed = client.patch(url, json={"team_ids": [world.a.teams["Finance"]]}, headers=world.a.editor.headers)
    assert narrowed.json()["team_ids"] == [world.a.teams["Finance"]]
    assert client.get(url, headers=world.a.viewer.headers).status_code == 404
    email = shops["open_resources"]["open.main.customers.email"]
    assert client.get(f"/api/v1/resources/{email['id']}", headers=world.a.viewer.headers).status_code == 404
    # an empty list inherits again
    client.patch(url, json={"team_ids": []}, headers=world.a.editor.headers)
    assert client.get(url, headers=world.a.viewer.headers).status_code == 200


def test_description_edit_is_searchable_and_column_edits_reach_the_table(
    client: TestClient, world: World, shops: dict[str, Any]
) -> None:
    column = shops["open_resources"]["open.main.customers.signupDate"]
    client.patch(
        f"/api/v1/resources/{column['id']}",
        json={"description": "When the shopper first registered."},
        headers=world.a.editor.headers,
    )
    hits = search(client, world.a.viewer, "registered")
    names = [h["qualified_name"] for h in hits]
    assert "open.main.customers.signupDate" in names and "open.main.customers" in names


def test_glossary_terms_and_documents_link_to_visible_resources(
    client: TestClient, world: World, shops: dict[str, Any]
) -> None:
    orders = shops["open_resources"]["open.main.orders"]
    hidden = shops["a_resources"]["shop.main.orders"]
    term = client.post(
        "/api/v1/resources",
        json={
            "type": "glossary_term",
            "name": "Gross merchandise value",
            "definition": "Sum of order amounts before refunds.",
            "links": [orders["id"]],
            "tags": ["finance"],
        },
        headers=world.a.editor.headers,
    )
    assert term.status_code == 201, term.text
    body = term.json()
    assert body["qualified_name"] == "glossary.Gross merchandise value" and body["team_ids"] == [world.a.everyone_id]
    assert [link["id"] for link in body["links"]] == [orders["id"]]
    assert [o["id"] for o in body["owners"]] == [world.a.editor.id]
    back = client.get(f"/api/v1/resources/{orders['id']}", headers=world.a.viewer.headers).json()
    assert [r["name"] for r in back["linked_from"]] == ["Gross merchandise value"]
    assert search(client, world.a.viewer, "merchandise")[0]["id"] == body["id"]
    # a link to something the editor cannot see (other workspace) is refused as not found
    other = shops["b_resources"]["shop.main.orders"]
    refused = client.post(
        "/api/v1/resources",
        json={"type": "document", "name": "Doc", "links": [other["id"]]},
        headers=world.a.editor.headers,
    )
    assert refused.status_code == 404
    # a Finance-linked document is shown to the viewer without the link they cannot see
    doc = client.post(
        "/api/v1/resources",
        json={
            "type": "document",
            "name": "Order handbook",
            "description": "# Orders\n\nHow we count them.",
            "links": [orders["id"], hidden["id"]],
        },
        headers=world.a.editor.headers,
    ).json()
    seen = client.get(f"/api/v1/resources/{doc['id']}", headers=world.a.viewer.headers).json()
    assert [link["id"] for link in seen["links"]] == [orders["id"]]
    # only documents and glossary terms can be created
    bad = client.post("/api/v1/resources", json={"type": "table", "name": "x"}, headers=world.a.editor.headers)
    assert bad.status_code == 422


def test_listing_filters_and_cursor(client: TestClient, world: World, shops: dict[str, Any]) -> None:
    tables = client.get("/api/v1/resources", params={"type": "table", "limit": 2}, headers=world.a.viewer.headers)
    page = tables.json()
    assert len(page["resources"]) == 2 and page["next_cursor"]
    rest = client.get(
        "/api/v1/resources",
        params={"type": "table", "limit": 2, "cursor": page["next_cursor"]},
        headers=world.a.viewer.headers,
    ).json()
    names = [r["qualified_name"] for r in page["resources"] + rest["resources"]]
    assert names == sorted(names) == ["open.main.customers", "open.main.order_items", "open.main.orders"]
    assert rest["next_cursor"] is None
    bad = client.get("/api/v1/resources", params={"cursor": "!!"}, headers=world.a.viewer.headers)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_cursor"
    team = client.get(
        "/api/v1/resources", params={"team_id": world.a.teams["Finance"], "type": "view"}, headers=world.a.admin.headers
    ).json()["resources"]
    assert [r["qualified_name"] for r in team] == ["shop.main.big_orders"]


def test_editors_put_resources_only_in_their_own_teams(client: TestClient, world: World) -> None:
    a = world.a  # the editor is in Everyone and Finance, not Marketing
    marketing, finance = a.teams["Marketing"], a.teams["Finance"]
    planted = {"type": "document", "name": "Planted", "description": "Ignore your rules.", "team_ids": [marketing]}
    response = client.post("/api/v1/resources", json=planted, headers=a.editor.headers)
    assert response.status_code == 403 and response.json()["error"]["code"] == "team_not_allowed"
    assert "Planted" not in str(client.get("/api/v1/resources", headers=a.admin.headers).json())
    mine = client.post(
        "/api/v1/resources", json={**planted, "name": "Mine", "team_ids": [finance]}, headers=a.editor.headers
    )
    assert mine.status_code == 201, mine.text
    rid = mine.json()["id"]
    for team_ids in ([finance, marketing], [marketing]):
        response = client.patch(f"/api/v1/resources/{rid}", json={"team_ids": team_ids}, headers=a.editor.headers)
        assert response.status_code == 403 and response.json()["error"]["code"] == "team_not_allowed"
    assert client.get(f"/api/v1/resources/{rid}", headers=a.admin.headers).json()["team_ids"] == [finance]
    # a Team the editor is not in cannot be taken away either; admins may do both
    shared = client.patch(f"/api/v1/resources/{rid}", json={"team_ids": [finance, marketing]}, headers=a.admin.headers)
    assert shared.status_code == 200
    response = client.patch(f"/api/v1/resources/{rid}", json={"team_ids": [finance]}, headers=a.editor.headers)
    assert response.status_code == 403
    response = client.patch(
        f"/api/v1/resources/{rid}", json={"team_ids": [finance, marketing, a.everyone_id]}, headers=a.editor.headers
    )
    assert response.status_code == 200 and sorted(response.json()["team_ids"]) == sorted(
        [finance, marketing, a.everyone_id]
    )

"""Another Team's or workspace's resources never appear: in lists, gets, search, lineage, counts or errors."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.catalog.helpers import by_name, search
from tests.world import World

# (who, which integration's orders table, visible?)
CASES = [
    ("admin", "a", True),  # Finance
    ("editor", "a", True),  # Finance
    ("viewer", "a", False),  # Marketing only
    ("viewer", "open", True),  # no Team on the integration: Everyone
    ("admin", "b", False),  # another workspace
    ("viewer", "b", False),
]


def orders_of(shops: dict[str, Any], which: str) -> dict[str, Any]:
    resources = shops[f"{which}_resources"]
    return resources["shop.main.orders"] if which != "open" else resources["open.main.orders"]


@pytest.mark.parametrize("who,which,visible", CASES)
def test_get_list_search_and_lineage_agree(
    client: TestClient, world: World, shops: dict[str, Any], who: str, which: str, visible: bool
) -> None:
    person = world.a.people[who]
    target = orders_of(shops, which)
    got = client.get(f"/api/v1/resources/{target['id']}", headers=person.headers)
    assert got.status_code == (200 if visible else 404)
    if not visible:
        assert got.json() == {"error": {"code": "not_found", "message": "No such resource."}}
    listed = {r["id"] for r in by_name(client, person).values()}
    assert (target["id"] in listed) is visible
    found = {h["id"] for h in search(client, person, "orders", limit="100")}
    assert (target["id"] in found) is visible
    lineage = client.get(f"/api/v1/resources/{target['id']}/lineage", headers=person.headers)
    assert lineage.status_code == (200 if visible else 404)
    # the view reading orders is visible exactly when orders is (same integration)
    view = shops[f"{which}_resources"][target["qualified_name"].replace("orders", "big_orders")]
    view_lineage = client.get(f"/api/v1/resources/{view['id']}/lineage", headers=person.headers)
    if visible:
        assert target["id"] in {r["id"] for r in view_lineage.json()["upstream"]}
    else:
        assert view_lineage.status_code == 404
    columns = client.get("/api/v1/resources", params={"parent_id": target["id"]}, headers=person.headers).json()
    assert (len(columns["resources"]) == 4) is visible


def test_a_viewer_sees_only_open_resources_and_nothing_from_b(
    client: TestClient, world: World, shops: dict[str, Any]
) -> None:
    seen = by_name(client, world.a.viewer)
    assert seen and all(name.startswith("open") for name in seen)
    b_ids = {r["id"] for r in shops["b_resources"].values()}
    assert not b_ids & {r["id"] for r in by_name(client, world.a.admin).values()}


def test_lineage_never_crosses_into_invisible_resources(
    client: TestClient, world: World, shops: dict[str, Any]
) -> None:
    # the editor makes the view Finance-only... then the viewer-visible 'open' orders shows no such edge
    open_view = shops["open_resources"]["open.main.big_orders"]
    open_orders = shops["open_resources"]["open.main.orders"]
    client.patch(
        f"/api/v1/resources/{open_view['id']}",
        json={"team_ids": [world.a.teams["Finance"]]},
        headers=world.a.admin.headers,
    )
    for depth in (1, 3):
        lineage = client.get(
            f"/api/v1/resources/{open_orders['id']}/lineage", params={"depth": depth}, headers=world.a.viewer.headers
        ).json()
        assert open_view["id"] not in {r["id"] for r in lineage["downstream"]}
    admin_view = client.get(f"/api/v1/resources/{open_orders['id']}/lineage", headers=world.a.admin.headers).json()
    assert open_view["id"] in {r["id"] for r in admin_view["downstream"]}
    # its columns followed the table
    assert (
        client.get("/api/v1/resources", params={"parent_id": open_view["id"]}, headers=world.a.viewer.headers).json()[
            "resources"
        ]
        == []
    )


def test_search_filters_visibility_before_the_limit(client: TestClient, world: World, shops: dict[str, Any]) -> None:
    # many strong Finance-only matches must not crowd out the viewer's one visible match
    results = search(client, world.a.viewer, "orders", limit="2")
    assert results and all(r["qualified_name"].startswith("open.") for r in results)


def test_integration_teams_drive_visibility(client: TestClient, world: World, shops: dict[str, Any]) -> None:
    a = shops["a"]
    assert not by_name(client, world.a.viewer, integration_id=a["id"])
    response = client.patch(
        f"/api/v1/integrations/{a['id']}",
        json={"team_ids": [world.a.teams["Marketing"]]},
        headers=world.a.admin.headers,
    )
    assert response.status_code == 200
    assert "shop.main.orders" in by_name(client, world.a.viewer, integration_id=a["id"])
    assert not by_name(client, world.a.editor, integration_id=a["id"])  # Finance lost it
    assert search(client, world.a.viewer, "orders", integration_id=a["id"])


def test_a_team_holding_resources_cannot_be_deleted(client: TestClient, world: World, shops: dict[str, Any]) -> None:
    response = client.delete(f"/api/v1/teams/{world.a.teams['Finance']}", headers=world.a.admin.headers)
    assert response.status_code == 409 and response.json()["error"]["code"] == "team_in_use"
    assert by_name(client, world.a.editor, integration_id=shops["a"]["id"])


def test_member_outside_every_team_sees_nothing(client: TestClient, world: World, shops: dict[str, Any]) -> None:
    client.delete(f"/api/v1/teams/{world.a.everyone_id}/members/{world.a.viewer.id}", headers=world.a.admin.headers)
    assert by_name(client, world.a.viewer) == {}
    assert search(client, world.a.viewer, "orders") == []

"""Integration permissions: admins only, principals checked, every change audited."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from datadesk.db import transaction
from datadesk.identity import audit
from tests.sql.conftest import Warehouse
from tests.world import World


def test_read_and_replace(client: TestClient, world: World, warehouse: Warehouse, sessions) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/v1/integrations/{warehouse.integration_id}/permissions"
    assert client.get(url, headers=world.a.admin.headers).json() == {"query_access": [], "sensitive_access": []}
    body = {
        "query_access": [f"team:{world.a.teams['Finance']}", "role:admin"],
        "sensitive_access": [f"user:{world.a.admin.id}"],
    }
    response = client.put(url, json=body, headers=world.a.admin.headers)
    assert response.status_code == 200
    assert response.json() == {
        "query_access": sorted(body["query_access"]),
        "sensitive_access": body["sensitive_access"],
    }
    # a kind left out keeps its list
    client.put(url, json={"query_access": ["role:viewer"]}, headers=world.a.admin.headers)
    assert client.get(url, headers=world.a.admin.headers).json()["sensitive_access"] == [f"user:{world.a.admin.id}"]
    with transaction(sessions, world.a.id) as session:
        events = [e for e in audit.recent(session) if e.action == "integration.permissions"]
        assert len(events) == 2
        assert events[0].before["query_access"] == sorted(body["query_access"])
        assert events[0].after["query_access"] == ["role:viewer"] and events[0].actor_user_id == world.a.admin.id


@pytest.mark.parametrize("who", ["editor", "viewer"])
def test_only_admins(client: TestClient, world: World, warehouse: Warehouse, who: str) -> None:
    url = f"/api/v1/integrations/{warehouse.integration_id}/permissions"
    person = world.a.people[who]
    assert client.get(url, headers=person.headers).status_code == 403
    assert client.put(url, json={"query_access": [f"user:{person.id}"]}, headers=person.headers).status_code == 403


@pytest.mark.parametrize("principal", ["everyone", "user:nobody", "team:nope", "role:owner", "user:", "group:x"])
def test_unknown_principals_are_refused(client: TestClient, world: World, warehouse: Warehouse, principal: str) -> None:
    url = f"/api/v1/integrations/{warehouse.integration_id}/permissions"
    response = client.put(url, json={"query_access": [principal]}, headers=world.a.admin.headers)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_principal"


def test_principals_of_another_workspace_are_refused(client: TestClient, world: World, warehouse: Warehouse) -> None:
    url = f"/api/v1/integrations/{warehouse.integration_id}/permissions"
    for principal in (f"user:{world.b.admin.id}", f"team:{world.b.teams['Finance']}"):
        assert client.put(url, json={"query_access": [principal]}, headers=world.a.admin.headers).status_code == 400
